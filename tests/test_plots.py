"""plot_grad_flow: the figures per layer against hand-computed values, the log-scale bars, the table."""

from __future__ import annotations

import math
import subprocess
import sys

import matplotlib  # noqa: F401  (the plot extra, installed with the test tools: missing, the set-up is broken)
import pytest

from microgradx import Value
from microgradx.nn import MLP
from microgradx.plots import GradFlow, LayerGradients, grad_flow, plot_grad_flow


def model_with_grads() -> MLP:
    """MLP(2, [2, 1]) with gradients set by hand: layer 0 (6 parameters), layer 1 (3)."""
    model = MLP(2, [2, 1], seed=0)
    grads = {"layers.0": [0.1, -0.2, 0.3, 0.0, 0.0, -0.6], "layers.1": [1e-3, -2e-3, 0.0]}
    for layer, values in grads.items():
        params = [p for name, p in model.named_parameters() if name.startswith(layer + ".")]
        for p, g in zip(params, values):
            p.grad = g
    return model


def test_the_figures_are_the_mean_and_the_largest_absolute_gradient_per_layer() -> None:
    rows = grad_flow(model_with_grads()).rows
    assert [r.layer for r in rows] == ["layers.0", "layers.1"] and [r.parameters for r in rows] == [6, 3]
    assert rows[0].mean == pytest.approx(1.2 / 6) and rows[0].max == 0.6  # (0.1+0.2+0.3+0.6)/6, |-0.6|
    assert rows[1].mean == pytest.approx(3e-3 / 3) and rows[1].max == 2e-3


def test_the_bars_stand_on_a_log_axis_at_those_heights() -> None:
    flow = plot_grad_flow(model_with_grads())
    ax = flow.ax
    assert ax.get_yscale() == "log"
    tops = sorted(round(bar.get_y() + bar.get_height(), 12) for bar in ax.patches)
    assert tops == sorted([0.2, 0.6, 1e-3, 2e-3])  # two bars per layer: mean and max
    assert [t.get_text() for t in ax.get_xticklabels()] == ["layers.0\n6 params", "layers.1\n3 params"]
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["max |grad|", "mean |grad|"]
    low, high = ax.get_ylim()
    assert low <= 1e-3 and high >= 0.6


def test_a_layer_whose_gradients_are_all_zero_is_drawn_and_labelled_zero() -> None:
    model = model_with_grads()
    for name, p in model.named_parameters():
        if name.startswith("layers.1."):
            p.grad = 0.0
    flow = plot_grad_flow(model)
    assert flow.rows[1] == LayerGradients("layers.1", 3, 0.0, 0.0)
    hatched = [bar for bar in flow.ax.patches if bar.get_hatch()]
    assert len(hatched) == 2 and [t.get_text() for t in flow.ax.texts] == ["0", "0"]
    silent = MLP(2, [2, 1], seed=0)  # before backward(): every gradient is 0
    assert "every gradient is 0: call backward() first" in [t.get_text() for t in plot_grad_flow(silent).ax.texts]


def test_the_same_figures_as_a_text_table() -> None:
    flow = plot_grad_flow(model_with_grads())
    assert str(flow).splitlines() == [
        "layer     parameters  mean |grad|  max |grad|",
        "layers.0  6           0.2          0.6",
        "layers.1  3           0.001        0.002",
    ]
    bundle = flow._repr_mimebundle_()
    assert bundle["text/plain"] == str(flow) and bundle["image/png"].startswith("iVBORw0KGgo")  # base64 PNG


def test_a_vanishing_gradient_shows_as_falling_bars() -> None:
    model = MLP(2, [8, 8, 8, 8, 1], activation="sigmoid", seed=0)
    model([0.5, -1.0]).backward()
    means = [row.mean for row in grad_flow(model).rows]
    assert means == sorted(means) and means[-1] / means[0] > 100  # sigmoid's slope is at most 1/4 per layer


def test_an_existing_axes_can_be_drawn_into() -> None:
    from matplotlib.figure import Figure

    figure = Figure()
    ax = figure.add_subplot()
    flow = plot_grad_flow(model_with_grads(), ax=ax)
    assert flow.ax is ax and flow.figure is figure and len(ax.patches) == 4


def test_bad_input_says_what_is_expected() -> None:
    with pytest.raises(TypeError, match=r"needs a model \(an nn Module\) or \(name, Value\) pairs, got int"):
        grad_flow(3)
    with pytest.raises(TypeError, match=r"\(name, Value\) pairs"):
        grad_flow([Value(1.0)])
    with pytest.raises(ValueError, match="no parameters"):
        grad_flow([])


def test_pairs_outside_nn_group_by_their_names() -> None:
    a, b, c = Value(1.0), Value(1.0), Value(1.0)
    a.grad, b.grad, c.grad = 1.0, -3.0, 0.5
    flow = grad_flow([("w.0", a), ("w.1", b), ("bias", c)])
    assert flow.rows == [LayerGradients("bias", 1, 0.5, 0.5), LayerGradients("w", 2, 2.0, 3.0)]
    assert isinstance(flow, GradFlow) and math.isfinite(flow.rows[0].mean)


def test_importing_microgradx_does_not_import_matplotlib() -> None:
    code = "import sys, microgradx, microgradx.plots; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_without_matplotlib_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib... now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'microgradx\[plot\]'.*grad_flow\(model\)"):
        plot_grad_flow(model_with_grads())
    assert grad_flow(model_with_grads()).rows[0].max == 0.6  # the table needs no matplotlib
