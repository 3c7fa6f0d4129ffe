"""The real data sets shipped in the package: the files, their checksums, and what the loaders return."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from microgradx.data import load_digits, load_iris, one_hot

DATASETS = Path(__file__).resolve().parent.parent / "microgradx" / "datasets"

# sha256 of the files as shipped (copied unchanged from scikit-learn 1.9.1's wheel): a changed byte
# in the data changes every number trained on it, so it must be a deliberate, visible change.
CHECKSUMS = {
    "digits.csv.gz": "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    "iris.csv": "f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449",
}


@pytest.mark.parametrize("name", sorted(CHECKSUMS))
def test_the_shipped_files_are_the_published_ones(name: str) -> None:
    assert hashlib.sha256((DATASETS / name).read_bytes()).hexdigest() == CHECKSUMS[name]


def test_the_source_and_license_are_stated_beside_the_files() -> None:
    readme = (DATASETS / "README.md").read_text()
    for fact in ("10.24432/C50P49", "10.24432/C56C76", "CC BY 4.0", "creativecommons.org/licenses/by/4.0"):
        assert fact in readme


def test_digits() -> None:
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and np.issubdtype(y.dtype, np.integer)
    assert X.min() == 0 and X.max() == 16 and np.all(np.round(X) == X)
    # The class counts the UCI repository documents for optdigits.tes.
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert X[0].reshape(8, 8)[:, 0].sum() == 0  # a centred digit: the left column of the first image is blank


def test_iris() -> None:
    X, y = load_iris()
    assert X.shape == (150, 4) and X.dtype == np.float64
    assert y.shape == (150,) and np.issubdtype(y.dtype, np.integer) and np.bincount(y).tolist() == [50, 50, 50]
    # Fisher's measurements: the means of his table, and the two rows the UCI notes correct.
    assert np.round(X.mean(axis=0), 3).tolist() == [5.843, 3.057, 3.758, 1.199]
    assert X[34].tolist() == [4.9, 3.1, 1.5, 0.2] and X[37].tolist() == [4.9, 3.6, 1.4, 0.1]


def test_one_hot() -> None:
    assert one_hot([2, 0], 4).tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    with pytest.raises(ValueError, match="whole numbers"):
        one_hot([0.5])
    with pytest.raises(ValueError, match="num_classes >= 3"):
        one_hot([2], 2)


@pytest.mark.slow
def test_the_wheel_carries_the_data_files(tmp_path: Path) -> None:
    root = DATASETS.parent.parent
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(tmp_path), str(root)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("microgradx-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in [*CHECKSUMS, "README.md"]:
        assert f"microgradx/datasets/{name}" in names
