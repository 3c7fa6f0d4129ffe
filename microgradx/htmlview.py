"""Pictures in browsers and notebooks: a self-contained pan-and-zoom page, and notebook outputs that fit.

Two ways to look at a drawing (an SVG from Graphviz), each self-contained (no network, no files
beside it):

- :func:`page`: a web page that fills the window with the drawing, with pan (drag), zoom (wheel,
  buttons, ``+``/``-``, double-click) and fit (``0``), as map viewers and Netron do: a big graph is
  explored by zooming in where one reads it. The animation of the backward pass builds on it.
- :func:`notebook_html`: what Jupyter shows. The picture is an ``<img>`` of the SVG, scaled down to
  the output's width (never up), which JupyterLab keeps even in an untrusted notebook (it strips an
  inline ``<svg>`` but not an image). When the notebook is trusted, a small script adds the extras:
  a click toggles the natural size, or the image gives way to the interactive page in an iframe.
  The output sets its own text and background colours, so it reads in light and dark themes.

>>> svg = '<svg width="80pt" height="40pt" viewBox="0.00 0.00 80.00 40.00"><text>hi</text></svg>'
>>> natural_size(svg)
(106.7, 53.3)
>>> "<img" in notebook_html(svg, view="fit")
True
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import re
from collections.abc import Sequence

__all__ = ["FRAMED_TEXT_PX", "PAGE_TEXT_PX", "hint", "natural_size", "notebook_html", "page", "svg_inline"]

INK, PAPER = "#111827", "#ffffff"  # text and background: light in every theme, as a printed figure
PT_TO_PX = 4 / 3  # Graphviz measures in points (1/72 in), CSS pixels are 1/96 in
PAGE_TEXT_PX = 13  # the text height the pages zoom to, at least, when they show a node (12 px is the floor)
FRAMED_TEXT_PX = 12  # the whole drawing, or a node with the nodes it acts on, is framed when its text stays this high
_ids = itertools.count()


def natural_size(svg: str) -> tuple[float, float]:
    """The width and height of an SVG from Graphviz in CSS pixels, from its ``width``/``height`` in points."""
    match = re.search(r'<svg[^>]*?width="([\d.]+)pt"[^>]*?height="([\d.]+)pt"', svg, flags=re.S)
    if not match:
        return 800.0, 600.0
    return round(float(match.group(1)) * PT_TO_PX, 1), round(float(match.group(2)) * PT_TO_PX, 1)


def svg_inline(svg: str) -> str:
    """Graphviz's SVG made fit to inline in HTML: no XML prolog, doctype, comments or namespace URLs."""
    svg = re.sub(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->", "", svg, flags=re.S)
    for namespace in (' xmlns="http://www.w3.org/2000/svg"', ' xmlns:xlink="http://www.w3.org/1999/xlink"'):
        svg = svg.replace(namespace, "")  # HTML puts <svg> in the SVG namespace by itself
    return svg.strip()


def _data_url(svg: str) -> str:
    """The SVG as a ``data:`` URL for an ``<img>`` (as an image it can run no script)."""
    start = svg.find("<svg")
    if "xmlns=" not in svg[start : svg.find(">", start)]:  # an image needs the namespace that HTML implies
        svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def srcdoc(page_html: str) -> str:
    """A page as the value of a single-quoted ``srcdoc`` attribute: only ``&`` and ``'`` need escaping
    there, and the page's markup, full of ``<`` and ``"``, stays as it is (a third of the size of
    escaping everything).

    >>> print(srcdoc('<p class="a">it' + "'" + 's &amp;</p>'))
    <p class="a">it&#39;s &amp;amp;</p>
    """
    return page_html.replace("&", "&amp;").replace("'", "&#39;")


def notebook_html(svg: str, *, view: str = "fit", page_html: str | None = None, height: int = 560,
                  alt: str = "a computation graph", note: str = "") -> str:
    """The HTML a notebook shows for a drawing.

    ``view``: "fit" (the picture scaled down to the output's width; a click shows it at its natural
    size), "natural" (full size, scrolling), or "interactive" (``page_html`` in an iframe of
    ``height`` pixels; until a script may run, that is in an untrusted notebook, the fitted picture
    with ``note`` below it). Scripts run only in a trusted notebook, so everything a script adds is
    an extra: without it, the picture is there.
    """
    # An id unique in the notebook, and the same when the notebook is run again (outputs do not churn).
    uid = f"mgx-{hashlib.sha1(svg.encode('utf-8')).hexdigest()[:10]}-{next(_ids)}"
    width, _ = natural_size(svg)
    box = (f"background:{PAPER};color:{INK};padding:6px;border-radius:4px;box-sizing:border-box;"
           "max-width:100%;overflow-x:auto")
    fitted = "max-width:100%;height:auto;display:block" if view != "natural" else "display:block;max-width:none"
    title = ' title="click for the natural size (click again to fit)"' if view == "fit" else ""
    img = (f'<img src="{_data_url(svg)}" alt="{html.escape(alt)}" width="{round(width)}" '
           f'style="{fitted}{";cursor:zoom-in" if view == "fit" else ""}"{title}>')
    if view != "interactive" or page_html is None:
        script = _TOGGLE.replace("UID", uid) if view == "fit" else ""
        return f'<div id="{uid}" class="microgradx-graph" style="{box};display:inline-block">{img}</div>{script}'
    frame = (f"<iframe srcdoc='{srcdoc(page_html)}' sandbox=\"allow-scripts\" "
             f'style="width:100%;height:{height}px;border:1px solid #d1d5db;border-radius:4px;background:{PAPER}" '
             f'title="{html.escape(alt)}"></iframe>')
    fallback = f'<div id="{uid}-still">{img}<p style="margin:.4em 0 0;color:{INK}">{html.escape(note)}</p></div>'
    swap = _SWAP.replace("UID", uid)
    return (f'<div id="{uid}" class="microgradx-graph" style="{box}">{fallback}'
            f'<template id="{uid}-live">{frame}</template></div>{swap}')


# Trusted notebooks only (scripts never run untrusted): a click on the fitted picture shows its natural size.
_TOGGLE = """<script>(function () {
  var box = document.getElementById("UID"), img = box && box.querySelector("img");
  if (!img) { return; }
  img.addEventListener("click", function () {
    var natural = img.style.maxWidth === "none";
    img.style.maxWidth = natural ? "100%" : "none";
    img.style.cursor = natural ? "zoom-in" : "zoom-out";
    box.style.display = natural ? "inline-block" : "block";
  });
})();</script>"""

# Trusted notebooks only: the still picture gives way to the interactive page. The iframe waits in a
# <template>, which a sanitizer drops whole, so an untrusted notebook shows only the still.
_SWAP = """<script>(function () {
  var still = document.getElementById("UID-still"), live = document.getElementById("UID-live");
  if (!still || !live) { return; }
  still.parentNode.replaceChild(live.content.cloneNode(true), still);
  live.remove();
})();</script>"""


ZOOMED = "zoomed in to read"  # what the hint says first while the view shows a part of the drawing


def hint(keys: Sequence[str] = (), *, embedded: bool = False, zoomed: bool = False) -> str:
    """The line under a page's drawing that says how to move around it, in one wording for every page:
    ``keys`` are the page's own (an animation's steps); ``embedded``: in a notebook's iframe, where the
    wheel scrolls the notebook unless Ctrl is held; ``zoomed``: the view shows a part of the drawing,
    so the way to see it all comes first.

    >>> hint()
    'drag to pan · scroll or +/− to zoom · 0 or “fit” to see it all'
    >>> hint(["space plays"], embedded=True, zoomed=True)
    'zoomed in to read · 0 or “fit” to see it all · drag to pan · Ctrl + scroll or +/− to zoom · space plays'
    """
    move = ["drag to pan", ("Ctrl + scroll" if embedded else "scroll") + " or +/− to zoom"]
    see_all = "0 or “fit” to see it all"
    return " · ".join([ZOOMED, see_all, *move, *keys] if zoomed else [*move, see_all, *keys])


def page(svg: str, *, title: str, header: str = "", style: str = "", script: str = "",
         keys: Sequence[str] = (), start: Sequence[str] = ()) -> str:
    """A standalone page: ``header`` (HTML) above the drawing, which fills the rest of the window.

    The page opens on the whole drawing when, fitted to the window, its text stays at least
    :data:`FRAMED_TEXT_PX` pixels high; else, as map viewers and Netron do, at the scale where the text is
    :data:`PAGE_TEXT_PX` pixels high, on the nodes named ``start`` (Graphviz's node names: the
    graph's output end), and the hint under the drawing says that "fit" shows it all (see
    :func:`hint`; ``keys`` adds the page's own keys to it). In a notebook's iframe the same holds
    for the iframe's size.

    The drawing pans and zooms; ``script`` runs after the pan-and-zoom object ``view`` exists
    (``view.fit()``; ``view.onchange(f)``: call ``f()`` after every pan or zoom;
    ``view.show(focus, context, ms)``: bring the elements ``focus`` into view with
    the elements ``context`` (an animation's active node and the nodes receiving its gradient),
    framed together when their text stays at least :data:`FRAMED_TEXT_PX` pixels high, else with
    the focus's text at least :data:`PAGE_TEXT_PX` pixels high and the view slid toward the
    context as far as keeps the focus on screen; ``view.scale()``: pixels per point). ``style``
    adds CSS. Every text in ``title`` is escaped; ``header``, ``style`` and ``script`` are the
    caller's markup. Nothing is loaded from the network.
    """
    fields = {
        "title": html.escape(title, quote=False),
        "header": header,
        "style": style,
        "svg": svg_inline(svg),
        "hint": html.escape(hint(keys), quote=False),
        "panzoom": _PANZOOM.replace("PAGE_TEXT_PX", str(PAGE_TEXT_PX)).replace("FRAMED_TEXT_PX", str(FRAMED_TEXT_PX))
                           .replace("HINTS", json_for_script(_hints(keys)))
                           .replace("START", json_for_script(list(start))),
        "script": script,
    }
    # One pass with a function: text put in (labels in the SVG) is never scanned for {{...}} again.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: fields[m.group(1)], _PAGE)


def _hints(keys: Sequence[str]) -> dict[str, object]:
    """The hint's wordings for the page's script to choose from: in a page or an iframe, the whole
    drawing in view or a part (then "zoomed in to read", set in bold, and the rest)."""
    return {"zoomed": ZOOMED, **{where: [hint(keys, embedded=where == "embedded"),
                                         hint(keys, embedded=where == "embedded", zoomed=True).removeprefix(ZOOMED)]
                                 for where in ("page", "embedded")}}


def json_for_script(data: object) -> str:
    """``data`` as JSON that is safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<link rel="icon" href="data:,">
<style>
  :root { color-scheme: light; }
  html, body { margin: 0; height: 100%; background: #ffffff; color: #111827;
               font-family: Helvetica, Arial, sans-serif; }
  body { display: flex; flex-direction: column; }
  header { padding: .5em .8em; border-bottom: 1px solid #e5e7eb; }
  h1 { font-size: 1.15em; margin: 0 0 .3em; }
  button { font: inherit; font-size: .95em; padding: .25em .65em; cursor: pointer; color: #111827;
           background: #f9fafb; border: 1px solid #9ca3af; border-radius: 4px; }
  button:hover { background: #e5e7eb; }
  #stage { flex: 1; position: relative; overflow: hidden; cursor: grab; touch-action: none; min-height: 200px;
           background: #ffffff; outline: none; }
  #stage.dragging { cursor: grabbing; }
  #stage > svg { position: absolute; left: 0; top: 0; width: 100%; height: 100%; user-select: none; }
  #zoom { position: absolute; right: .6em; top: .6em; display: flex; gap: .3em; }
  #hint { position: absolute; left: .6em; bottom: .4em; margin: 0; font-size: .8em; color: #4b5563;
          background: rgba(255, 255, 255, .85); padding: .1em .4em; border-radius: 3px; }
  #hint.zoomed { color: #111827; }
{{style}}
</style>
</head>
<body>
<header>{{header}}</header>
<div id="stage" tabindex="0" aria-label="the drawing: drag to pan, scroll to zoom">
{{svg}}
<div id="zoom"><button id="zoom-out" title="zoom out (-)">&#x2212;</button>
<button id="zoom-in" title="zoom in (+)">+</button><button id="fit" title="see it all (0)">fit</button></div>
<p id="hint">{{hint}}</p>
</div>
<script>
"use strict";
{{panzoom}}
{{script}}
</script>
</body>
</html>
"""

# Pan and zoom by the SVG's viewBox: the drawing's own coordinates (points) stay as Graphviz made them.
_PANZOOM = r"""var view = (function () {
  var stage = document.getElementById("stage"), svg = stage.querySelector("svg");
  var box = svg.viewBox.baseVal, whole = { x: box.x, y: box.y, w: box.width, h: box.height };
  var textUnits = 14;  // the drawing's font size in points: the text height at scale 1 is 14 px
  var minText = PAGE_TEXT_PX, minFramed = FRAMED_TEXT_PX;
  var state = { cx: whole.x + whole.w / 2, cy: whole.y + whole.h / 2, s: 1 };
  var embedded = window.self !== window.top, animation = null;
  var placed = null;  // the last placement made for the reader (fit, show): redone when the window resizes
  svg.removeAttribute("width"); svg.removeAttribute("height");
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  function size() { return { w: stage.clientWidth || 1, h: stage.clientHeight || 1 }; }
  var watchers = [];  // called after every change of the view (onchange)
  var hint = document.getElementById("hint"), hints = HINTS, zoomed = null;
  function apply() {
    var z = size(), w = z.w / state.s, h = z.h / state.s;
    svg.setAttribute("viewBox", [state.cx - w / 2, state.cy - h / 2, w, h].join(" "));
    var part = state.s > fitScale(whole.w, whole.h) * 1.02;  // zoomed in past "fit": say so, and how to see it all
    if (part !== zoomed) {
      zoomed = part;
      var words = hints[embedded ? "embedded" : "page"], bold = document.createElement("b");
      bold.textContent = hints.zoomed;
      hint.replaceChildren.apply(hint, part ? [bold, words[1]] : [words[0]]);
      hint.classList.toggle("zoomed", part);
    }
    watchers.forEach(function (f) { f(); });
  }
  function clampScale(s) { return Math.max(0.02, Math.min(s, 8)); }
  function go(target, ms) {  // ease to {cx, cy, s}; ms = 0 jumps
    if (animation) { cancelAnimationFrame(animation); animation = null; }
    var from = { cx: state.cx, cy: state.cy, s: state.s }, start = null;
    target.s = clampScale(target.s);
    if (!ms) { state = target; apply(); return; }
    function frame(t) {
      if (start === null) { start = t; }
      var k = Math.min(1, (t - start) / ms), e = k * k * (3 - 2 * k);
      state = { cx: from.cx + (target.cx - from.cx) * e, cy: from.cy + (target.cy - from.cy) * e,
                s: from.s * Math.pow(target.s / from.s, e) };
      apply();
      animation = k < 1 ? requestAnimationFrame(frame) : null;
    }
    animation = requestAnimationFrame(frame);
  }
  function fitScale(w, h) { var z = size(); return Math.min(z.w / w, z.h / h) * 0.96; }
  function fit(ms) {
    placed = function () { fit(0); };
    go({ cx: whole.x + whole.w / 2, cy: whole.y + whole.h / 2, s: fitScale(whole.w, whole.h) }, ms);
  }
  function readable() { return minText / textUnits; }
  function framed() { return minFramed / textUnits; }
  function fits() { return fitScale(whole.w, whole.h) >= framed(); }  // all of it, its text still readable
  // The centre along one axis nearest `want` that keeps a screen `span` long on the drawing [lo, lo + len].
  function within(lo, len, want, span) {
    return span >= len ? lo + len / 2 : Math.max(lo + span / 2, Math.min(lo + len - span / 2, want));
  }
  // How the page opens: all of the drawing when it fits readably; else its text readable, on `focus`
  // (the output end, where the story is), the screen kept on the drawing and the focus on the screen.
  function open(focus) {
    fit(0);
    if (!focus.length) { return; }  // nothing named to open on: all of it
    placed = function () { open(focus); };  // redone when the window (or a notebook's iframe) gets its size
    if (fits() || !stage.clientWidth) { return; }
    var f = bounds(focus), z = size(), s = readable(), w = z.w / s, h = z.h / s;
    go({ cx: slide(f.x, f.w, within(whole.x, whole.w, f.x + f.w / 2, w), w),
         cy: slide(f.y, f.h, within(whole.y, whole.h, f.y + f.h / 2, h), h), s: s }, 0);
  }
  function toDrawing(px, py) {  // a point on the screen, in the drawing's coordinates
    var r = stage.getBoundingClientRect(), z = size();
    return { x: state.cx + (px - r.left - z.w / 2) / state.s, y: state.cy + (py - r.top - z.h / 2) / state.s };
  }
  function zoomAt(factor, px, py) {
    placed = null;  // the reader's own view from now on
    var p = toDrawing(px, py), s = clampScale(state.s * factor), k = state.s / s;
    go({ cx: p.x + (state.cx - p.x) * k, cy: p.y + (state.cy - p.y) * k, s: s }, 0);
  }
  function bounds(elements) {  // the drawing-coordinates box around some elements of the SVG
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    var root = svg.getScreenCTM().inverse();
    elements.forEach(function (el) {
      var b = el.getBBox(), t = root.multiply(el.getScreenCTM());  // element -> drawing coordinates
      [[b.x, b.y], [b.x + b.width, b.y + b.height]].forEach(function (c) {
        var x = t.a * c[0] + t.c * c[1] + t.e, y = t.b * c[0] + t.d * c[1] + t.f;
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
      });
    });
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }
  function visible(b) {
    var z = size(), w = z.w / state.s, h = z.h / state.s;
    return b.x >= state.cx - w / 2 && b.x + b.w <= state.cx + w / 2 &&
           b.y >= state.cy - h / 2 && b.y + b.h <= state.cy + h / 2;
  }
  // The centre along one axis nearest `want` that keeps [lo, lo + len] on a screen `span` long (with a margin).
  function slide(lo, len, want, span) {
    var least = lo + len + span * 0.03 - span / 2, most = lo - span * 0.03 + span / 2;
    return least > most ? lo + len / 2 : Math.max(least, Math.min(most, want));
  }
  // Bring `focus` into view with `context` (the nodes it acts on): both framed together when their text
  // stays at least minFramed px high; else the focus readable, the view slid as far toward the context as
  // keeps the focus on screen.
  function show(focus, context, ms) {
    if (fits()) { fit(ms); }  // it all fits, readably: no need to move
    placed = function () { show(focus, context, 0); };
    if (fits()) { return; }
    var f = bounds(focus), c = context && context.length ? bounds(context) : f;
    var both = context && context.length ? bounds(focus.concat(context)) : f, together = fitScale(both.w, both.h);
    if (together >= framed()) {
      if (state.s >= framed() && visible(both)) { return; }  // already in view and readable: leave the reader's view
      var s = Math.min(Math.max(state.s, framed()), together);
      go({ cx: both.x + both.w / 2, cy: both.y + both.h / 2, s: s }, ms);
      return;
    }
    var z = size(), k = Math.max(readable(), Math.min(state.s, fitScale(f.w, f.h)));
    go({ cx: slide(f.x, f.w, c.x + c.w / 2, z.w / k), cy: slide(f.y, f.h, c.y + c.h / 2, z.h / k), s: k }, ms);
  }
  // Dragging pans, the wheel zooms (in a notebook, with Ctrl or Cmd held, so the page still scrolls).
  var drag = null;
  stage.addEventListener("pointerdown", function (e) {
    if (e.button !== 0 || e.target.closest("button")) { return; }
    drag = { x: e.clientX, y: e.clientY, cx: state.cx, cy: state.cy };
    placed = null;
    stage.setPointerCapture(e.pointerId); stage.classList.add("dragging");
  });
  stage.addEventListener("pointermove", function (e) {
    if (!drag) { return; }
    go({ cx: drag.cx - (e.clientX - drag.x) / state.s, cy: drag.cy - (e.clientY - drag.y) / state.s, s: state.s }, 0);
  });
  function endDrag() { drag = null; stage.classList.remove("dragging"); }
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);
  stage.addEventListener("wheel", function (e) {
    if (embedded && !(e.ctrlKey || e.metaKey)) { return; }
    e.preventDefault();
    zoomAt(Math.pow(1.0015, -e.deltaY * (e.deltaMode === 1 ? 33 : 1)), e.clientX, e.clientY);
  }, { passive: false });
  stage.addEventListener("dblclick", function (e) { zoomAt(e.shiftKey ? 0.5 : 2, e.clientX, e.clientY); });
  function zoomCenter(f) {
    var r = stage.getBoundingClientRect();
    zoomAt(f, r.left + r.width / 2, r.top + r.height / 2);
  }
  document.getElementById("zoom-in").addEventListener("click", function () { zoomCenter(1.4); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoomCenter(1 / 1.4); });
  document.getElementById("fit").addEventListener("click", function () { fit(250); });
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || (e.target && e.target.tagName === "INPUT")) { return; }
    if (e.key === "+" || e.key === "=") { zoomCenter(1.4); }
    else if (e.key === "-" || e.key === "_") { zoomCenter(1 / 1.4); }
    else if (e.key === "0") { fit(250); }
    else { return; }
    e.preventDefault();
  });
  function resized() { if (placed) { placed(); } else { apply(); } }
  window.addEventListener("resize", resized);
  if (window.ResizeObserver) { new ResizeObserver(resized).observe(stage); }  // an iframe laid out late
  open(START.map(function (name) {  // the nodes named `start`, by their <title> (Graphviz's node name)
    return Array.prototype.find.call(svg.querySelectorAll("g.node"), function (g) {
      var t = g.querySelector("title");
      return t && t.textContent === name;
    });
  }).filter(Boolean));
  return { fit: fit, show: show, scale: function () { return state.s; }, readable: readable, zoomAt: zoomAt,
           onchange: function (f) { watchers.push(f); } };
})();"""
