"""What notebooks and browsers show: pictures that fit, pages to pan and zoom, outputs that survive an
untrusted notebook, and colours that read in a dark theme (checked in headless Chromium)."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from microgradx import Value, losses
from microgradx.animate import animate_backward
from microgradx.data import make_moons
from microgradx.gradcheck import check
from microgradx.htmlview import hint, natural_size, notebook_html
from microgradx.nn import MLP
from microgradx.viz import draw_graph, save

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def readme_neuron() -> Value:
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    y = (x * w + b).tanh()
    y.backward()
    return y


def moons_loss(n: int = 100) -> Value:
    X, y = make_moons(n, noise=0.1, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    loss = losses.hinge([model(x) for x in X], 2 * y - 1) + 1e-4 * losses.l2(model.parameters())
    loss.backward()
    return loss


def untrusted(html: str) -> str:
    """What an untrusted notebook keeps of an output, as JupyterLab's sanitizer does: no script, no
    template and no iframe (their content goes with them: sanitize-html drops a script's text, and a
    template's or an iframe's markup is not text), and no inline SVG."""
    html = re.sub(r"<(script|template|iframe)\b.*?</\1>", "", html, flags=re.S)
    return html


# -- the notebook output, as data ------------------------------------------------------------------------


@needs_dot
def test_a_neuron_fits_the_output_and_survives_an_untrusted_notebook() -> None:
    graph = draw_graph(readme_neuron())
    assert graph.shown_as() == "fit"
    html = graph._repr_mimebundle_()["text/html"]
    kept = untrusted(html)
    images = re.findall(r'<img src="data:image/svg\+xml;base64,[^"]+" alt="[^"]*" width="(\d+)" style="([^"]*)"',
                        kept)
    assert len(images) == 1  # the picture itself is what a sanitizer keeps
    width, style = images[0]
    assert int(width) == round(natural_size(graph.svg())[0]) and "max-width:100%" in style and "height:auto" in style
    assert "<svg" not in html  # no inline SVG, whose labels would spill out as text once its tags are stripped
    assert re.search(r"color:#111827", kept) and re.search(r"background:#ffffff", kept)


@needs_dot
def test_a_graph_too_wide_to_read_scaled_gets_a_pan_and_zoom_view() -> None:
    graph = draw_graph(moons_loss(), collapse="neuron", heatmap=True, rankdir="LR")  # the loss's ops side by side
    assert natural_size(graph.svg())[0] > 2000 and graph.shown_as() == "interactive"
    bundle = graph._repr_mimebundle_()
    html = bundle["text/html"]
    assert re.search(r"<template[^>]*><iframe srcdoc='<!DOCTYPE html>", html)  # the page, for a trusted notebook
    kept = untrusted(html)  # untrusted: the still picture and how to get the interactive view
    assert kept.count("<img") == 1 and "run the cell (or trust the notebook)" in kept and "iframe" not in kept
    png = base64.b64decode(bundle["image/png"])
    assert png.startswith(b"\x89PNG") and len(png) < 300_000  # a raster for code hosts, kept small
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width * height <= 1_000_000 * 1.02
    graph.view = "fit"  # one attribute away: the fitted picture instead
    assert "<template" not in graph._repr_mimebundle_()["text/html"]


@needs_dot
@pytest.mark.parametrize("collapse", ["layer", "neuron"])
def test_the_moons_batch_fits_a_notebook_readably(collapse: str) -> None:
    graph = draw_graph(moons_loss(), collapse=collapse, heatmap=True)
    width, _ = natural_size(graph.svg())
    assert graph.shown_as() == "fit" and width <= 2000  # scaled to a ~1000 px output, its text is at least half size
    if collapse == "neuron":  # 16 neurons a layer, four to a row: narrower than a laptop (side by side: 4,772 px)
        assert width <= 1280


def test_views_are_checked() -> None:
    with pytest.raises(ValueError, match="view must be 'auto', 'fit'"):
        draw_graph(Value(1.0) * 2, view="big")


@needs_dot
def test_a_graph_saves_as_a_page_to_pan_and_zoom(tmp_path: Path) -> None:
    path = save(moons_loss(), tmp_path / "moons.html", collapse="layer")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1
    assert not re.search(r"(?i)(https?:|ftp:)?//[a-z0-9]", page)  # nothing to fetch, not even a namespace
    assert "<title>Graph of the output</title>" in page


# -- in a real browser -----------------------------------------------------------------------------------




# A notebook in JupyterLab's dark theme, as far as an output sees it: light text, dark backgrounds,
# striped table rows, all set on the elements an output is made of.
DARK_NOTEBOOK = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
  body { background: #111111; color: #dddddd; font-family: sans-serif; margin: 0; }
  .output { width: 1000px; padding: 8px; }
  .output div, .output p, .output li, .output span { color: #dddddd; }
  .output table, .output th, .output td { color: #dddddd; background: #222222; }
  .output tbody tr:nth-child(odd) { background: #2a2a2a; }
</style></head><body><div class="output" id="out">OUTPUT</div></body></html>"""

CONTRAST = """() => {
  function rgb(s) { return s.match(/[\\d.]+/g).slice(0, 4).map(Number); }
  function luminance(c) {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function background(el) {  // the first opaque background from the element up
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) { return c; }
    }
    return [255, 255, 255];
  }
  const out = [];
  document.querySelectorAll("#out *").forEach(el => {
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) { return; }
    const fg = luminance(rgb(getComputedStyle(el).color)), bg = luminance(background(el));
    out.push({ text: el.textContent.trim().slice(0, 30),
               ratio: (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05) });
  });
  return out;
}"""


def show_in_dark_notebook(browser: Any, output: str, tmp_path: Path, name: str) -> Any:
    path = tmp_path / f"{name}.html"
    path.write_text(DARK_NOTEBOOK.replace("OUTPUT", output), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_timeout(200)
    assert problems == []
    return page


@pytest.mark.browser
def test_the_gradcheck_report_reads_in_a_dark_theme(browser: Any, tmp_path: Path) -> None:
    cube = __import__("microgradx").define_op("cube_wrong", lambda x: x**3, lambda x, out: (2 * x * x,))
    report = check(lambda x, y: cube(x) * y, [0.7, 1.5])
    assert any(row.status == "FAIL" for row in report.rows)
    page = show_in_dark_notebook(browser, report._repr_html_(), tmp_path, "gradcheck")
    seen = page.evaluate(CONTRAST)
    assert any(s["text"] == "FAIL" for s in seen) and len(seen) > 10
    assert all(s["ratio"] >= 4.5 for s in seen), [s for s in seen if s["ratio"] < 4.5]  # WCAG AA for text
    page.close()


@needs_dot
@pytest.mark.browser
def test_graph_outputs_read_in_a_dark_theme(browser: Any, tmp_path: Path) -> None:
    graph = draw_graph(moons_loss(), collapse="neuron")
    for name, html in (("fit", notebook_html(graph.svg(), view="fit")),
                       ("still", untrusted(graph._repr_mimebundle_()["text/html"]))):
        page = show_in_dark_notebook(browser, html, tmp_path, name)
        seen = page.evaluate(CONTRAST)
        assert all(s["ratio"] >= 4.5 for s in seen), (name, seen)
        box = page.evaluate("""() => { const s = getComputedStyle(document.querySelector(".microgradx-graph"));
                                       return [s.color, s.backgroundColor]; }""")
        assert box == ["rgb(17, 24, 39)", "rgb(255, 255, 255)"]  # its own colours, whatever the theme's
        page.close()


@needs_dot
@pytest.mark.browser
def test_the_fitted_picture_scales_down_never_up_and_a_click_shows_its_natural_size(browser: Any,
                                                                                   tmp_path: Path) -> None:
    wide, small = draw_graph(readme_neuron()), draw_graph(Value(2.0, label="x") * 3)
    html = notebook_html(wide.svg(), view="fit") + notebook_html(small.svg(), view="fit")
    page = show_in_dark_notebook(browser, html, tmp_path, "fit")  # scripts run here, as in a trusted notebook
    sizes = page.evaluate("""() => Array.from(document.querySelectorAll("#out img"), img => {
      const r = img.getBoundingClientRect();
      return [r.width, r.height, img.naturalWidth, img.naturalHeight];
    })""")
    (w1, h1, n1, m1), (w2, _, n2, _) = sizes
    assert n1 > 1000 and w1 <= 1000 and abs(w1 / h1 - n1 / m1) < 0.02  # scaled to the output, shape kept
    assert w2 == pytest.approx(n2, abs=1)  # a small graph keeps its size: never blown up
    page.click("#out img >> nth=0")
    natural = page.evaluate("() => document.querySelector('#out img').getBoundingClientRect().width")
    assert natural == pytest.approx(n1, abs=1)
    page.close()


# Where the drawing is on the stage, the text height of the nodes named (their smallest), and the hint.
VIEW = """(names) => {
  const stage = document.getElementById("stage").getBoundingClientRect();
  const r = document.querySelector("#stage svg g.graph").getBoundingClientRect();
  const nodes = Array.from(document.querySelectorAll("#stage svg g.node"))
    .filter(g => names.includes(g.querySelector("title").textContent));
  const texts = nodes.flatMap(g => Array.from(g.querySelectorAll("text"), t => t.getBoundingClientRect()));
  const inside = b => b.left >= stage.left && b.right <= stage.right && b.top >= stage.top && b.bottom <= stage.bottom;
  return { left: r.left - stage.left, right: stage.right - r.right, top: r.top - stage.top,
           bottom: stage.bottom - r.bottom, width: r.width, all: inside(r), found: nodes.length,
           text: Math.min(...texts.map(b => b.height)), shown: texts.every(inside),
           hint: document.getElementById("hint").textContent };
}"""


@needs_dot
@pytest.mark.browser
def test_the_pan_and_zoom_page_of_a_large_graph(browser: Any, tmp_path: Path) -> None:
    graph = draw_graph(moons_loss(), collapse="neuron", heatmap=True)
    path = save(graph, tmp_path / "moons.html")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())

    def view() -> dict[str, Any]:
        return page.evaluate(VIEW, list(graph.start))  # type: ignore[no-any-return]

    # Fitted, its text would be about 4 px high: it opens readable, on the output (the root), and says so.
    start = view()
    assert start["found"] == 1 and start["shown"] and 12 <= start["text"] < 16, start
    assert not start["all"] and start["hint"].startswith("zoomed in to read · 0 or “fit” to see it all"), start
    page.click("#fit")  # "fit" shows it all, too small to read: that is what the opening spared the reader
    page.wait_for_timeout(400)
    fitted = view()
    assert fitted["all"] and fitted["text"] < 12 and fitted["hint"].startswith("drag to pan"), fitted
    for _ in range(4):
        page.keyboard.press("+")
    assert view()["text"] >= 12 and view()["width"] > fitted["width"] * 3
    page.mouse.move(600, 500)
    page.mouse.down()
    page.mouse.move(300, 300, steps=4)
    page.mouse.up()
    moved = view()
    page.mouse.wheel(0, 300)  # zooms out about the pointer
    assert view()["width"] < moved["width"]
    page.dblclick("#stage", position={"x": 400, "y": 400})
    page.keyboard.press("0")  # and so does 0
    page.wait_for_timeout(400)
    assert view()["all"]
    assert problems == [] and requests == [path.as_uri()]
    page.close()


@needs_dot
@pytest.mark.browser
def test_a_graph_readable_whole_opens_fitted(browser: Any, tmp_path: Path) -> None:
    graph = draw_graph(readme_neuron())
    path = save(graph, tmp_path / "neuron.html")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(path.as_uri())
    seen = page.evaluate(VIEW, list(graph.start))
    assert seen["all"] and seen["found"] == 2 and seen["text"] >= 12 and seen["hint"].startswith("drag to pan")
    assert seen["width"] > 1280 * 0.9  # as large as fits
    page.close()


@needs_dot
@pytest.mark.browser
@pytest.mark.parametrize("rankdir", ["TB", "LR"])
def test_the_interactive_view_in_a_notebook_opens_readable_on_the_output(browser: Any, tmp_path: Path,
                                                                        rankdir: str) -> None:
    graph = draw_graph(moons_loss(), collapse="neuron", rankdir=rankdir, view="interactive")
    page = show_in_dark_notebook(browser, graph._repr_mimebundle_()["text/html"], tmp_path, "opens")
    frame = page.frame_locator("#out iframe")
    frame.locator("#stage svg").wait_for()
    inner = next(f for f in page.frames if f != page.main_frame)
    seen = inner.evaluate(VIEW, list(graph.start))
    assert seen["found"] == 1 and seen["shown"] and seen["text"] >= 12 and not seen["all"], seen
    assert seen["hint"].startswith("zoomed in to read · 0 or “fit” to see it all"), seen
    assert "Ctrl + scroll" in seen["hint"]  # in a notebook the wheel scrolls the notebook
    inner.press("#stage", "0")
    page.wait_for_timeout(400)
    assert inner.evaluate(VIEW, list(graph.start))["all"]
    page.close()


def test_both_pages_say_how_to_move_around_in_the_same_words() -> None:
    words = "drag to pan · scroll or +/− to zoom · 0 or “fit” to see it all"
    assert hint() == words
    animation = animate_backward(readme_neuron()).html
    assert f'<p id="hint">{words} · ← → step · space plays</p>' in animation
    assert "0 fits" not in animation


@needs_dot
@pytest.mark.browser
def test_in_a_trusted_notebook_the_still_gives_way_to_the_interactive_view(browser: Any, tmp_path: Path) -> None:
    for output in (draw_graph(moons_loss(), collapse="neuron", rankdir="LR")._repr_mimebundle_()["text/html"],
                   animate_backward(readme_neuron())._repr_html_()):
        page = show_in_dark_notebook(browser, output, tmp_path, "trusted")
        assert page.evaluate("() => document.querySelectorAll('#out img').length") == 0  # the still is gone
        frame = page.frame_locator("#out iframe")
        assert frame.locator("#stage svg").count() == 1
        page.close()


@needs_dot
@pytest.mark.browser
def test_an_untrusted_animation_shows_its_first_step_and_how_to_play_it(browser: Any, tmp_path: Path) -> None:
    kept = untrusted(animate_backward(readme_neuron())._repr_html_())
    page = show_in_dark_notebook(browser, kept, tmp_path, "untrusted")
    assert page.evaluate("() => document.querySelector('#out img').naturalWidth") > 100  # the picture loads
    assert "run the cell (or trust the notebook) to play the backward pass" in page.inner_text("#out")
    page.close()


