"""The main job: the two-moons demo trains to 100% and writes weights, curves, plots and graphs."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from microgradx.data import make_moons
from microgradx.demo import run_demo
from microgradx.nn import MLP
from microgradx.serialization import load


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_demo(tmp_path_factory.mktemp("demo"), seed=0, progress=False)


def test_demo_learns_the_moons_and_saves_a_model_that_reloads(demo_out: Path) -> None:
    with open(demo_out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 100
    assert float(rows[-1]["accuracy"]) == 1.0
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"]) / 10
    model = MLP(2, [16, 16, 1])
    model.load_state_dict(load(demo_out / "model.json"))
    X, labels = make_moons(100, noise=0.1, seed=0)
    predictions = [model(list(x)).data > 0 for x in X]
    assert predictions == [bool(label) for label in labels]  # the reloaded model is the trained one


def test_demo_writes_plots_and_graphs(demo_out: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plots need the plot extra (matplotlib)")
    for name in ("decision_boundary.png", "training.png"):
        assert (demo_out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("neuron.svg", "mlp.svg"):
        root = ET.parse(demo_out / name).getroot()
        assert root.tag.endswith("svg")
        texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
        assert "grad" in texts or name == "mlp.svg"
    html = (demo_out / "backprop.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "")
