"""The backward-pass animation: its steps, its page, and the page driven in a real headless Chromium."""

from __future__ import annotations

import html
import itertools
import json
import math
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from microgradx import Value, define_op, grad
from microgradx import functional as F
from microgradx.animate import Animation, animate_backward, backward_steps
from microgradx.ops import RuleError
from microgradx.viz import GraphTooLarge, trace

# Only the page needs Graphviz: the steps are plain arithmetic and are tested without it.
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def neuron() -> tuple[Value, list[Value]]:
    x, w, b = Value(2.0, label="x"), Value(-0.5, label="w"), Value(0.3, label="b")
    y = (x * w + b * x).tanh()  # x is used twice: its gradient is a sum of two contributions
    y.label = "y"
    return y, [x, w, b]


# d tanh(x*w + b*x) = 1 - tanh(-0.4)**2 = 0.85563; x: (w + b) * 0.85563, w and b: x * 0.85563
NEURON_GRADS = ["grad -0.1711", "grad 1.7113", "grad 1.7113"]


# -- the steps -------------------------------------------------------------------------------------------


def shared() -> tuple[Value, list[Value]]:
    a, b = Value(1.5, label="a"), Value(-2.0, label="b")
    return (a * b + a * a).relu() + b, [a, b]


def sums() -> tuple[Value, list[Value]]:
    xs = [Value(0.1 * i, label=f"x{i}") for i in range(3)]
    return F.sum([x**2 for x in xs]) * F.dot(xs, [1.0, 2.0, 3.0]), xs


def user_op() -> tuple[Value, list[Value]]:
    cube = define_op("cube", lambda x: x**3, lambda x, out: (3 * x * x,))
    x = Value(0.7, label="x")
    return cube(x).exp() / x, [x]


@pytest.mark.parametrize("build", [neuron, shared, sums, user_op])
def test_the_steps_end_with_the_engines_gradients(build: Any) -> None:
    root, _ = build()
    steps = backward_steps(root)
    nodes, _ = trace(root)
    assert len(steps) == sum(1 for v in nodes if v._prev)  # one step per op node
    expected = grad(root, nodes)
    assert [steps[-1].grads[v] for v in nodes] == pytest.approx(list(expected))
    assert steps[-1].final == frozenset(nodes)
    assert all(v.grad == 0.0 for v in nodes)  # nothing written to .grad


def test_each_step_passes_a_complete_gradient_back() -> None:
    root, (x, _, _) = neuron()
    steps = backward_steps(root)
    assert steps[0].node is root and steps[0].grads == {root: 1.0, root._prev[0]: pytest.approx(1 - root.data**2)}
    for k, step in enumerate(steps):
        assert step.node in step.final  # the gradient passed back is complete
        assert set(steps[k - 1].grads) <= set(step.grads) if k else True
    first_x = next(k for k, s in enumerate(steps) if x in s.grads)
    assert x not in steps[first_x].final  # after the first of its two uses, x's gradient is partial
    assert x in steps[-1].final


def test_the_expected_gradients_are_the_engines() -> None:
    root, leaves = neuron()
    root.backward()
    assert [f"grad {leaf.grad:.4f}" for leaf in leaves] == NEURON_GRADS


@needs_dot
def test_a_leaf_has_nothing_to_animate() -> None:
    with pytest.raises(ValueError, match="nothing to animate: the root is a leaf"):
        animate_backward(Value(1.0))


def test_a_large_graph_is_refused_with_the_fix() -> None:
    y = Value(0.0)
    for _ in range(200):
        y = y + 1.0
    with pytest.raises(GraphTooLarge, match=r"601 nodes, more than max_nodes=500.*collapse='neuron'.*max_nodes="):
        animate_backward(y)
    with pytest.raises(ValueError, match=r"interval_ms \(milliseconds per frame\) must be a whole number >= 1"):
        animate_backward(Value(1.0) * 2, interval_ms=0)
    with pytest.raises(ValueError, match="max_nodes must be a whole number >= 1"):
        animate_backward(Value(1.0) * 2, max_nodes="many")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rankdir must be 'LR'"):
        animate_backward(Value(1.0) * 2, rankdir="left")


# -- the page --------------------------------------------------------------------------------------------


class Page(HTMLParser):
    """The tags and the text of an HTML page, as a browser's parser sees them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)


def data_of(page: str) -> dict[str, Any]:
    """The frames' data the page carries (the JSON after ``var DATA =``)."""
    match = re.search(r"var DATA = (\{.*?\});\n", page, flags=re.S)
    assert match, "the page carries its frames as data"
    return json.loads(match.group(1))


def states(page: str) -> list[dict[str, tuple[list[str], bool]]]:
    """The gradient text of every drawn node after each step, replaying the data as the page's script does."""
    data = data_of(page)
    shown = {unit: tuple(entry) for unit, entry in data["initial"].items()}
    out = []
    for frame in data["frames"]:
        shown.update({unit: tuple(entry) for unit, entry in frame["texts"].items()})
        out.append(dict(shown))
    return out  # type: ignore[return-value]


@needs_dot
def test_the_page_holds_one_drawing_and_each_step_as_data(tmp_path: Path) -> None:
    root, _ = neuron()
    animation = animate_backward(root, tmp_path / "backprop.html")
    page = (tmp_path / "backprop.html").read_text(encoding="utf-8")
    assert page == animation.html and animation.path == tmp_path / "backprop.html"
    steps = backward_steps(root)
    assert animation.frames == len(steps) == 4 and page.count("<svg") == 1
    assert len(data_of(page)["frames"]) == 4
    parsed = Page(page)
    assert parsed.tags.count("script") == 1 and "iframe" not in parsed.tags
    assert not re.search(r"(?i)(https?:|ftp:)?//[a-z0-9]", page)  # no URL at all, not even a namespace
    assert not re.search(r"(?i)@import|url\(", page)
    links = [value for name, value in parsed.attrs if name in ("src", "href", "xlink:href", "action")]
    assert links == ["data:,"]  # the empty favicon: no request for /favicon.ico
    assert "step 1 of 4" in page and "play" in page


@needs_dot
def test_each_step_highlights_the_node_passing_its_gradient_and_its_inputs() -> None:
    root, _ = neuron()
    page = animate_backward(root).html
    nodes, _ = trace(root)
    index = {v: i for i, v in enumerate(nodes)}
    for frame, step in zip(data_of(page)["frames"], backward_steps(root)):
        assert frame["node"] == f"v{index[step.node]}"
        assert frame["inputs"] == [f"v{index[p]}" for p in step.node._prev]
        assert frame["edges"]  # the edges the gradient flows along
    svg = frames_of(page)[0]  # the drawing shows step 1: the root passes its gradient back
    current = [g.get("id") for g in svg.iter("g") if "current" in (g.get("class") or "").split()]
    assert sorted(current) == sorted([f"v{index[root]}", f"op{index[root]}"])
    ids = [g.get("id") for g in svg.iter() if g.get("id")]
    assert len(ids) == len(set(ids))


def frames_of(page: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S)]


@needs_dot
def test_the_steps_show_unknown_partial_and_final_gradients() -> None:
    root, (x, _, _) = neuron()
    page = animate_backward(root).html
    nodes, _ = trace(root)
    shown = states(page)
    assert [lines for lines, _ in shown[0].values()].count(["grad ?"]) == 5  # after step 1: the root and its input
    final = shown[-1]
    assert {lines[0] for lines, _ in final.values()} >= set(NEURON_GRADS) and all(not p for _, p in final.values())
    k = next(k for k, s in enumerate(backward_steps(root)) if x in s.grads)  # x feeds both products
    assert shown[k][f"v{nodes.index(x)}"][1] is True  # a partial sum after the first
    assert shown[k][f"v{nodes.index(root)}"][1] is False
    first = ["".join(t.itertext()) for t in frames_of(page)[0].iter("text")]
    assert first.count("grad ?") == 5  # the drawing itself shows step 1, for a viewer that runs no script


@needs_dot
def test_hostile_labels_stay_text_in_the_page() -> None:
    x = Value(1.0, label="<script>alert(1)</script>")
    y = (x * 2.0).tanh()
    y.label = '"><img src=x onerror=alert(2)></script><script>alert(3)</script>'
    animation = animate_backward(y)
    parsed = Page(animation.html)
    assert parsed.tags.count("script") == 1 and "img" not in parsed.tags
    text = "".join(parsed.text)
    assert "<script>alert(1)</script>" in text and "<img src=x onerror=alert(2)>" in text
    assert "</script>" not in "".join(parsed.scripts)  # labels in the data cannot end the script
    captions = [frame["caption"] for frame in data_of(animation.html)["frames"]]
    assert any("<script>alert(1)</script>" in c for c in captions)  # set with textContent, never as HTML


@needs_dot
def test_same_graph_same_page_and_jupyter_shows_it_in_a_sandboxed_iframe_or_a_still() -> None:
    first, _ = neuron()
    second, _ = neuron()
    animation = animate_backward(first)
    assert animation.html == animate_backward(second).html
    assert isinstance(animation, Animation) and "4 frames" in repr(animation)
    shown = animation._repr_html_()
    parsed = Page(shown)
    # Untrusted, a notebook strips scripts and templates: what is left is the still of step 1 and how to play it.
    assert parsed.tags.count("template") == 1 and parsed.tags.count("script") == 1
    before_template = shown[: shown.index("<template")]
    assert '<img src="data:image/svg+xml;base64,' in before_template and "run the cell" in before_template
    assert "iframe" not in before_template and 'sandbox="allow-scripts"' in shown
    page = re.search(r"srcdoc='([^']*)'", shown)  # the page is an attribute value: no ' in it, & escaped
    assert page and html.unescape(page.group(1)) == animation.html


@pytest.mark.parametrize("closure", [True, False])
def test_a_node_built_by_hand_without_a_table_rule_is_refused_by_name(closure: bool) -> None:
    x = Value(0.5, label="x")
    out = Value(math.exp(x.data), (x,), "exp")  # micrograd's way: the op is a name, the derivative a closure
    if closure:
        def backward() -> None:
            x.grad += out.data * out.grad

        out._backward = backward
    out.label = "e"
    y = out * 2.0
    named = r"cannot animate e: its op 'exp' was built by hand" if closure else r"the op 'exp' was built by hand"
    with pytest.raises(RuleError, match=named):  # without a closure, the engine's own pass says it first
        animate_backward(y)
    with pytest.raises(RuleError, match="define_op"):
        backward_steps(y)


def mlp_loss(batch: int = 1) -> tuple[Value, Any]:
    from microgradx.nn import MLP

    model = MLP(2, [4, 4, 1], seed=0)
    rows = [[0.5 - 0.1 * i, -1.2 + 0.2 * i] for i in range(batch)]
    loss = F.mean([(model(row) - 1.0) ** 2 for row in rows])
    loss.label = "loss"
    return loss, model


@needs_dot
@pytest.mark.parametrize("collapse", ["neuron", "layer"])
def test_a_model_steps_neuron_by_neuron_or_layer_by_layer(collapse: str) -> None:
    loss, model = mlp_loss(batch=5)
    animation = animate_backward(loss, collapse=collapse)
    data = data_of(animation.html)
    # The drawing lists the groups first, in numeric order: p0.. are the neurons (or layers), from layer 0 up.
    groups = [[p for p in layer.neurons] for layer in model.layers] if collapse == "neuron" else [model.layers]
    modules = [module for row in groups for module in row] if collapse == "neuron" else model.layers
    units = [f"p{k}" for k in range(len(modules))]
    order = [frame["node"] for frame in data["frames"]]
    steps_of_groups = [order.index(unit) for unit in units]
    by_layer = [steps_of_groups[:4], steps_of_groups[4:8], steps_of_groups[8:]] if collapse == "neuron" else \
        [[k] for k in steps_of_groups]
    assert max(by_layer[2]) < min(by_layer[1]) and max(by_layer[1]) < min(by_layer[0])  # from the output back
    assert len(order) == len(set(order))  # each group or role steps once
    # at the end each box shows the engine's gradients: the largest and the mean |grad| of its parameters
    loss.backward()
    final = states(animation.html)[-1]
    for unit, module in zip(units, modules):
        grads = [abs(p.grad) for p in module.parameters()]
        lines, partial = final[unit]
        assert lines == [f"|grad| max {max(grads):.4f}", f"mean {sum(grads) / len(grads):.4f}"] and not partial
    assert "Backward pass of loss" in animation.html


@needs_dot
def test_captions_name_unlabelled_nodes_in_words() -> None:
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(0.5, label="b")
    c = Value(4.0)
    y = ((x * w + b) * 2.0 + c * x).tanh()  # no label but the leaves'
    captions = [frame["caption"] for frame in data_of(animate_backward(y).html)["frames"]]
    assert not any("result" in caption for caption in captions)
    assert "Step 1 of 6: tanh's output has its full gradient 1.0000 and passes it back through its op tanh" \
        in captions[0]
    assert "grad(the sum) += " in captions[0]
    # two different unlabelled products feed the sum: each is told apart by its data
    assert "grad(the product (data -11.0000)) += " in captions[1]
    assert "grad(the product (data 8.0000)) += " in captions[1]
    assert captions[2].startswith("Step 3 of 6: The product has its full gradient")
    assert "grad(the constant 4.0000) += " in captions[2] and "grad(x) += " in captions[2]
    assert any("The sum has its full gradient" in caption and "grad(b) += " in caption for caption in captions)


@needs_dot
def test_folded_captions_name_boxes_and_shorten_long_lists() -> None:
    loss, _ = mlp_loss(batch=5)
    loss = loss + 1e-4 * F.sum([p * p for p in _parameters(loss)])
    neuron_captions = [f["caption"] for f in data_of(animate_backward(loss, collapse="neuron").html)["frames"]]
    assert neuron_captions[0].startswith("The output's gradient is 1 (d out / d out). Step 1 of ")
    assert ": The + box has its full gradient" in neuron_captions[0]
    assert any(c.endswith("back (gradient × local derivative) to x0 ×5 and x1 ×5.") for c in neuron_captions)
    # the penalty reaches all 9 neurons: the first two, the last and the count, not a list of nine
    assert any("to 9 boxes: layers.0.neurons.0, layers.0.neurons.1, …, layers.2.neurons.0." in c
               for c in neuron_captions)
    layer_captions = [f["caption"] for f in data_of(animate_backward(loss, collapse="layer").html)["frames"]]
    assert any("to layers.0, layers.1 and layers.2." in c for c in layer_captions)


def _parameters(root: Value) -> list[Value]:
    nodes, _ = trace(root)
    return [v for v in nodes if v.label.startswith("layers.")]


@needs_dot
def test_the_title_names_the_output_when_it_has_no_label() -> None:
    x = Value(0.5, label="x")
    assert "<title>Backward pass of the output</title>" in animate_backward(x * 2).html
    assert "<title>the doubling</title>" in animate_backward(x * 2, title="the doubling").html


@needs_dot
def test_the_two_four_four_one_mlp_page_is_small() -> None:
    loss, _ = mlp_loss()
    animation = animate_backward(loss)
    assert animation.frames >= 28 and len(animation.html.encode("utf-8")) < 300_000
    assert animation.html.count("<svg") == 1


# -- the page in a real browser --------------------------------------------------------------------------

STATE = """() => {
  const current = document.querySelector("#stage g.node.value.current");
  return {
    current: current && current.id,
    grads: Array.from(document.querySelectorAll("#stage g.node.value"), g => {
      const texts = g.querySelectorAll("text");
      return texts[texts.length - 1].textContent;
    }),
    italic: Array.from(document.querySelectorAll("#stage g.node.value text"))
      .filter(t => t.getAttribute("font-style") === "italic").map(t => t.textContent),
    caption: document.getElementById("caption").textContent,
    counter: document.getElementById("counter").textContent,
    play: document.getElementById("play").textContent,
  };
}"""
ACTIVE_TEXT = """() => {
  const stage = document.getElementById("stage").getBoundingClientRect();
  const current = document.querySelector("#stage g.node.value.current");
  const texts = Array.from(current.querySelectorAll("text"), t => t.getBoundingClientRect());
  return {
    height: Math.min(...texts.map(r => r.height)),
    inside: texts.every(r => r.left >= stage.left - 1 && r.right <= stage.right + 1 && r.top >= stage.top - 1
                        && r.bottom <= stage.bottom + 1),
  };
}"""




class Watched:
    """A page in a 1280x800 window that records console problems and every request it makes."""

    def __init__(self, browser: Any, url: str, width: int = 1280, height: int = 800) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = url
        self.page.goto(url)

    def close(self) -> None:
        assert self.problems == []
        assert self.requests == [self.url]  # nothing fetched but the page itself
        self.page.close()


@needs_dot
@pytest.mark.browser
def test_play_and_step_in_headless_chromium(browser: Any, tmp_path: Path) -> None:
    root, _ = neuron()
    animate_backward(root, tmp_path / "backprop.html", interval_ms=150)
    watched = Watched(browser, (tmp_path / "backprop.html").as_uri())
    page = watched.page

    def state() -> dict[str, Any]:
        return page.evaluate(STATE)  # type: ignore[no-any-return]

    seen = [state()]
    assert seen[0]["counter"] == "step 1 of 4" and seen[0]["current"] is not None
    assert "gradient is 1" in seen[0]["caption"]
    for _ in range(3):
        page.click("#next")
        seen.append(state())
    assert len({s["current"] for s in seen}) == 4
    assert all(a["grads"] != b["grads"] and a["caption"] != b["caption"] for a, b in itertools.pairwise(seen))
    unknown = [s["grads"].count("grad ?") for s in seen]
    assert unknown == sorted(unknown, reverse=True) and unknown[-1] == 0
    assert set(NEURON_GRADS) <= set(seen[-1]["grads"]) and seen[-1]["italic"] == []
    assert any(s["italic"] for s in seen)  # x's partial sum, in italics, on the way
    page.click("#next")  # past the end: stays on the last step
    assert state()["counter"] == "step 4 of 4"

    page.click("#prev")  # back: the state of step 3 again, recomputed from the data
    assert state() == seen[2]
    page.keyboard.press("ArrowLeft")
    assert state()["counter"] == "step 2 of 4"
    page.click("#first")
    assert state() == seen[0]

    page.click("#play")  # play runs through the steps on its own and stops at the last one
    assert "pause" in state()["play"]
    page.wait_for_function("() => document.getElementById('counter').textContent === 'step 4 of 4'", timeout=10_000)
    page.wait_for_function("() => document.getElementById('play').textContent.includes('play')", timeout=10_000)
    page.click("#play")  # from the end, play starts over
    page.wait_for_function("() => document.getElementById('counter').textContent !== 'step 4 of 4'", timeout=10_000)
    page.click("#play")  # and pauses
    paused = state()
    page.wait_for_timeout(400)
    assert state()["counter"] == paused["counter"] and "play" in paused["play"]
    watched.close()


def view_box(page: Any) -> list[float]:
    return [float(v) for v in page.evaluate("document.querySelector('#stage svg').getAttribute('viewBox')").split()]


@needs_dot
@pytest.mark.browser
def test_the_page_follows_the_active_node_and_pans_and_zooms_by_hand(browser: Any, tmp_path: Path) -> None:
    loss, _ = mlp_loss()
    animation = animate_backward(loss, tmp_path / "mlp.html")
    watched = Watched(browser, (tmp_path / "mlp.html").as_uri())
    page = watched.page
    for _ in range(animation.frames):  # every step: the active node in view, its text at least 12 px high
        page.wait_for_timeout(340)  # the pan to it takes 300 ms
        active = page.evaluate(ACTIVE_TEXT)
        assert active["inside"] and active["height"] >= 12, active
        page.keyboard.press("ArrowRight")
    # by hand: drag pans, the wheel zooms about the pointer, + zooms in, 0 fits everything in
    page.wait_for_timeout(340)  # the last step's move has ended
    before = view_box(page)
    page.mouse.move(640, 500)
    page.mouse.down()
    page.mouse.move(540, 450, steps=5)
    page.mouse.up()
    after = view_box(page)
    assert after[2:] == before[2:] and after[0] > before[0] and after[1] > before[1]  # moved, same zoom
    page.mouse.wheel(0, -400)
    zoomed = view_box(page)
    assert zoomed[2] < after[2]
    page.keyboard.press("0")
    page.wait_for_timeout(400)
    fitted = page.evaluate("""() => {
      const stage = document.getElementById("stage").getBoundingClientRect();
      const drawing = document.querySelector("#stage svg g.graph").getBoundingClientRect();
      return [drawing.left >= stage.left, drawing.right <= stage.right, drawing.top >= stage.top,
              drawing.bottom <= stage.bottom];
    }""")
    assert fitted == [True] * 4
    watched.close()


FRAMING = """() => {
  const stage = document.getElementById("stage").getBoundingClientRect();
  const current = document.querySelector("#stage g.node.value.current");
  const receivers = Array.from(document.querySelectorAll("#stage g.node.value.receiving"));
  const rect = el => el.getBoundingClientRect();
  const inside = r => r.left >= stage.left - 1 && r.right <= stage.right + 1 && r.top >= stage.top - 1
                      && r.bottom <= stage.bottom + 1;
  const union = rs => {
    const left = Math.min(...rs.map(r => r.left)), top = Math.min(...rs.map(r => r.top));
    const right = Math.max(...rs.map(r => r.right)), bottom = Math.max(...rs.map(r => r.bottom));
    return { width: right - left, height: bottom - top, x: (left + right) / 2, y: (top + bottom) / 2 };
  };
  const a = rect(current), r = union(receivers.map(rect)), both = union([a, ...receivers.map(rect)]);
  const text = Math.min(...Array.from(current.querySelectorAll("text"), t => t.getBoundingClientRect().height));
  const away = receivers.filter(g => { const b = rect(g);
    return b.right < stage.left || b.left > stage.right || b.bottom < stage.top || b.top > stage.bottom; });
  const pointer = document.getElementById("elsewhere");
  return {
    text, active: inside(a), all: receivers.every(g => inside(rect(g))), receivers: receivers.length,
    away: away.length, pointer: pointer.hidden ? null : pointer.textContent, pointerInside: inside(rect(pointer)),
    // the text height if the node and its receivers were scaled to just fit the stage together
    framedText: text * Math.min(stage.width / both.width, stage.height / both.height),
    // how far the receivers are from the middle of the stage, and from the active node
    fromMiddle: Math.hypot(r.x - (stage.left + stage.width / 2), r.y - (stage.top + stage.height / 2)),
    fromActive: Math.hypot(r.x - (a.left + a.width / 2), r.y - (a.top + a.height / 2)),
  };
}"""


@needs_dot
@pytest.mark.browser
def test_the_page_frames_the_active_node_with_its_receivers_or_pans_toward_them(browser: Any, tmp_path: Path) -> None:
    from microgradx import losses
    from microgradx.data import make_moons
    from microgradx.nn import MLP

    X, labels = make_moons(100, noise=0.1, seed=0)  # the README's batch: 42 steps neuron by neuron
    model = MLP(2, [16, 16, 1], seed=0)
    loss = losses.hinge([model(x) for x in X], 2 * labels - 1) + 1e-4 * losses.l2(model.parameters())
    animation = animate_backward(loss, tmp_path / "moons.html", collapse="neuron")
    watched = Watched(browser, (tmp_path / "moons.html").as_uri())
    page = watched.page
    framed = panned = 0
    pointed = None  # the last step with a receiver out of view
    for step in range(animation.frames):
        page.wait_for_timeout(340)  # the move to the step takes 300 ms
        seen = page.evaluate(FRAMING)
        assert seen["active"] and seen["text"] >= 12, (step + 1, seen)  # always: the active node, readable
        if seen["framedText"] >= 12 * 1.25:  # they fit together with room to spare: all of them in view
            assert seen["all"], (step + 1, seen)
            framed += 1
        elif seen["framedText"] < 12:  # they cannot all be read at once: the view leans toward the receivers
            assert seen["fromMiddle"] < 0.8 * seen["fromActive"], (step + 1, seen)
            panned += 1
        # receivers wholly out of view: a button at the edge says how many, and which way
        assert (seen["pointer"] is not None) == (seen["away"] > 0), (step + 1, seen)
        if seen["away"]:
            some, every = seen["away"], seen["receivers"]
            said = f"{some} of its inputs" if some < every else "its input" if every == 1 else f"its {every} inputs"
            assert seen["pointerInside"] and said in seen["pointer"], (step + 1, seen)
            pointed = step
        page.keyboard.press("ArrowRight")
    assert framed >= 10 and panned >= 3, (framed, panned)  # both happen here (step 1 frames, step 3's 33 cannot)
    assert pointed is not None
    page.keyboard.press("Home")
    for _ in range(pointed):
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(340)
    before = page.evaluate(FRAMING)
    page.click("#elsewhere")  # takes the view to them
    page.wait_for_timeout(340)
    after = page.evaluate(FRAMING)
    assert before["away"] and after["away"] < before["away"] and after["pointer"] != before["pointer"]
    watched.close()


@needs_dot
@pytest.mark.browser
@pytest.mark.parametrize("rankdir", ["LR", "TB", "RL", "BT"])
def test_any_rankdir_fits_in_the_frame(browser: Any, tmp_path: Path, rankdir: str) -> None:
    loss, _ = mlp_loss()
    animate_backward(loss, tmp_path / "mlp.html", rankdir=rankdir, collapse="neuron")
    watched = Watched(browser, (tmp_path / "mlp.html").as_uri(), width=1000, height=600)
    page = watched.page
    page.keyboard.press("0")
    page.wait_for_timeout(400)
    inside = page.evaluate("""() => {
      const stage = document.getElementById("stage").getBoundingClientRect();
      const drawing = document.querySelector("#stage svg g.graph").getBoundingClientRect();
      return drawing.left >= stage.left && drawing.right <= stage.right && drawing.top >= stage.top
             && drawing.bottom <= stage.bottom
             && (drawing.width > stage.width * 0.9 || drawing.height > stage.height * 0.9);  // as large as fits
    }""")
    assert inside
    watched.close()


COVERED = """() => {
  const button = document.getElementById("elsewhere"), b = button.getBoundingClientRect();
  const overlaps = r => r.left < b.right && r.right > b.left && r.top < b.bottom && r.bottom > b.top;
  const parts = Array.from(document.querySelectorAll(
    "#stage svg g.node, #stage svg g.edge > polygon, #stage svg g.edge > text, #zoom, #hint"));
  return { shown: !button.hidden, text: button.textContent,
           covers: parts.filter(el => overlaps(el.getBoundingClientRect())).map(el => el.id || el.tagName) };
}"""


@needs_dot
@pytest.mark.browser
def test_the_button_toward_inputs_out_of_view_covers_no_part_of_the_drawing(browser: Any, tmp_path: Path) -> None:
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")  # the demo's backprop.html
    y = (x * w + b).tanh()
    animate_backward(y, tmp_path / "backprop.html")
    watched = Watched(browser, (tmp_path / "backprop.html").as_uri())
    page = watched.page
    page.click("#last")  # the product passes its gradient to x and w, at the drawing's left end
    page.wait_for_timeout(340)
    shown = 0
    for _ in range(4):  # zoomed in about the middle, x and w leave the view, then the product's op node
        page.click("#zoom-in")
        seen = page.evaluate(COVERED)
        if seen["shown"]:
            shown += 1
            assert seen["covers"] == [] and "its 2 inputs" in seen["text"], seen
    assert shown >= 2
    watched.close()
