"""The README's 30-second tour: its code prints what its comment says and draws the committed picture."""

from __future__ import annotations

import contextlib
import io
import re

import nbrun


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG file"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_the_tour_prints_the_gradients_its_comment_shows() -> None:
    body, _ = nbrun.tour_code()
    promised = re.search(r"print\(.*\)\s*#\s*(.+)", body)
    assert promised is not None
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(body, "README.md tour", "exec"), {})
    assert out.getvalue().strip() == promised.group(1).strip()


def test_the_committed_picture_is_the_one_the_tour_draws() -> None:
    readme = nbrun.README.read_text(encoding="utf-8")
    assert 'src="docs/tour.png"' in readme.split("## Quick start")[0]  # shown near the top, before set-up
    committed = nbrun.TOUR_PICTURE.read_bytes()
    fresh = nbrun.tour_graph().pipe(format="png")  # type: ignore[attr-defined]
    # Same layout, same size (the bytes may differ between Graphviz builds): redraw it with
    # `.venv/bin/python tests/nbrun.py --write` when the tour or the drawing changes.
    assert png_size(committed) == png_size(fresh)
    width, height = png_size(committed)
    assert width <= 1000 and height <= 800  # fits a README column without shrinking the text away
    assert len(committed) < 200_000
