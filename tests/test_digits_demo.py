"""`microgradx demo --dataset digits`, run as a user runs it: real data, the compiled path, its files."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from microgradx.data import load_digits, train_test_split
from microgradx.nn import MLP
from microgradx.serialization import load

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_digits_demo_learns_from_real_data_and_writes_readable_files(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "microgradx", "demo", "--dataset", "digits", "--out", "digits"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "fit: 100%" in result.stderr  # the progress bar ran to the end
    match = re.search(r"test accuracy (\d+\.\d)% \((\d+) of 360 held-out digits\)", result.stdout)
    assert match, result.stdout
    assert float(match[1]) >= 95.0
    out = tmp_path / "digits"
    # The saved model is the trained one: reloaded, it scores the held-out digits as printed.
    model = MLP(64, [32, 10])
    model.load_state_dict(load(out / "model.json"))
    X, y = load_digits()
    _, X_test, _, y_test = train_test_split(X / 16.0, y, test_size=0.2, seed=0)
    right = sum(int(np.argmax([v.data for v in model(x)])) == label for x, label in zip(X_test.tolist(), y_test))
    assert right == int(match[2])
    with open(out / "confusion_matrix.csv") as f:
        rows = list(csv.reader(f))
    counts = np.array([[int(c) for c in row[1:]] for row in rows[1:]])
    assert counts.shape == (10, 10) and counts.sum() == 360 and np.trace(counts) == right
    assert counts.sum(axis=1).tolist() == np.bincount(y_test, minlength=10).tolist()
    with open(out / "history.csv") as f:
        history = list(csv.DictReader(f))
    assert len(history) == 30 and float(history[-1]["loss"]) < float(history[0]["loss"]) / 10
    pytest.importorskip("matplotlib", reason="the pictures need the plot extra (matplotlib)")
    for name in ("loss_curve.png", "confusion_matrix.png", "misclassified.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert not list(out.glob(".*.tmp"))  # every file was written whole, then renamed into place


def test_the_default_demo_is_still_the_moons() -> None:
    from microgradx.cli import build_parser

    args = build_parser().parse_args(["demo"])
    assert args.dataset == "moons" and args.out is None
