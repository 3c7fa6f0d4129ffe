"""The main job: the two-moons demo trains to 100% and writes weights, curves, plots and graphs."""

from __future__ import annotations

import csv
import re
import sys
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


def test_demo_writes_graphs(demo_out: Path) -> None:
    # What each drawing must show: one neuron's Values with their gradients; the network with a box per
    # neuron (its parameter count and largest |grad|); the first step's batch folded by layer, inputs
    # counted per example.
    shows = {"neuron.svg": ["data ", "grad ", "|grad|, log scale"],
             "mlp.svg": ["neurons.15", "3 parameters", "|grad| max", "|grad|, log scale"],
             "batch.svg": ["x0 ×100", "x1 ×100", "layers.0", "layers.2", "relu ×100", "|grad|, log scale"]}
    for name, words in shows.items():
        texts = svg_texts(demo_out / name)
        for word in words:
            assert word in texts, (name, word)
    html = (demo_out / "backprop.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "")


def svg_texts(path: Path) -> str:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    return " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))


@pytest.mark.parametrize("name", ["neuron.svg", "mlp.svg", "batch.svg"])
def test_each_picture_fits_a_laptop_screen_with_readable_text(demo_out: Path, name: str) -> None:
    root = ET.parse(demo_out / name).getroot()
    width_px = float(root.get("width", "").removesuffix("pt")) * 4 / 3  # Graphviz writes points; CSS px = 4/3 pt
    graph = next(g for g in root.iter() if g.get("class") == "graph")
    scale = re.match(r"scale\(([\d.]+)", graph.get("transform", ""))
    assert scale, "Graphviz writes the drawing's scale on its top group"
    sizes = [float(t.get("font-size", 0)) for t in root.iter() if t.tag.endswith("text")]
    smallest_px = min(sizes) * float(scale.group(1)) * 4 / 3
    assert width_px <= 1280 and smallest_px >= 12, (width_px, smallest_px)


def test_the_batch_picture_is_the_first_training_step(demo_out: Path) -> None:
    with open(demo_out / "history.csv") as f:
        first_loss = float(next(csv.DictReader(f))["loss"])
    root = ET.parse(demo_out / "batch.svg").getroot()
    loss_box = next(g for g in root.iter() if g.get("class", "").startswith("node")
                    and any((t.text or "").startswith("loss") for t in g.iter() if t.tag.endswith("text")))
    texts = [t.text for t in loss_box.iter() if t.tag.endswith("text")]
    assert f"data {first_loss:.4f}" in texts and "grad 1.0000" in texts, texts  # drawn after backward()


def test_demo_writes_plots(demo_out: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plots need the plot extra (matplotlib)")
    for name in ("decision_boundary.png", "training.png", "grad_flow.png"):
        assert (demo_out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_the_demo_says_so_and_writes_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib... now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    run_demo(tmp_path, seed=0, steps=2, progress=False)
    assert "matplotlib is not installed, so no plots" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backprop.html", "batch.svg", "history.csv", "mlp.svg",
                                                          "model.json", "neuron.svg"]
