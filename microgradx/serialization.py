"""Saving and loading state dicts as JSON: readable, diffable, and safe to open (no pickle, no code).

A file holds ``{"format": "microgradx", "version": 1, "state": {...}}``, where the state is what a
model's, an optimizer's or a schedule's ``state_dict()`` returns. ``load`` checks the file and
returns the state; ``load_state_dict`` then checks that the state fits the object before it writes
anything, so a bad file never leaves a model half loaded. JSON keeps every float exactly.

>>> import tempfile, os
>>> from microgradx.nn import MLP
>>> model, copy = MLP(2, [4, 1], seed=0), MLP(2, [4, 1], seed=1)
>>> path = os.path.join(tempfile.mkdtemp(), "model.json")
>>> save(model, path)
>>> copy.load_state_dict(load(path))
IncompatibleKeys(missing=[], unexpected=[])
>>> copy.state_dict() == model.state_dict()
True
"""

from __future__ import annotations

import json
import os
import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from ._files import write_atomic

__all__ = ["save", "load", "SaveFileError", "FORMAT", "VERSION"]

FORMAT = "microgradx"
VERSION = 1


class SaveFileError(ValueError):
    """The file is not a microgradx save file that this version can read (the message says why)."""


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj``'s state (a model, an optimizer, a schedule, or a state dict) to ``path`` as JSON.

    The file is written next to its destination and then moved into place, so an interrupted or
    failed save never leaves a truncated file behind; an existing file keeps its permissions, and a
    symbolic link keeps pointing where it did (see :mod:`microgradx._files`).
    """
    state = obj.state_dict() if hasattr(obj, "state_dict") else obj
    if not isinstance(state, Mapping):
        raise TypeError(f"save() takes a model, an optimizer, a schedule or a state dict, got {reprlib.repr(obj)}")
    try:
        text = json.dumps({"format": FORMAT, "version": VERSION, "state": state}, indent=1, allow_nan=False)
    except (TypeError, ValueError) as error:  # e.g. a NaN, or a value JSON has no type for
        raise ValueError(f"save(): the state cannot be written as JSON: {error}") from None
    write_atomic(path, text + "\n", who="save()")


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a file written by :func:`save` and return the state dict in it.

    Raises :class:`SaveFileError`, naming the file and the problem, when it is empty, not text,
    not valid JSON, not a microgradx file, from a newer version, or without a state dict.
    """
    path = Path(path)
    raw = path.read_bytes()
    if not raw.strip():
        _fail(path, "it is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _fail(path, "it is not text (a microgradx file is UTF-8 JSON)")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as error:
        _fail(path, f"it is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
                    "it may be truncated or corrupt")
    except ValueError as error:
        _fail(path, str(error))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        _fail(path, f'it is JSON, but has no "format": "{FORMAT}" header')
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        _fail(path, f"its format version is {version!r}, not a whole number >= 1")
    if version > VERSION:
        _fail(path, f"it was written in format version {version} by a newer microgradx (this one reads up to "
                    f"{VERSION}); upgrade microgradx to read it")
    if not isinstance(data.get("state"), dict):
        _fail(path, 'it has no "state" dict')
    return data["state"]  # type: ignore[no-any-return]


def _fail(path: Path, problem: str) -> NoReturn:
    raise SaveFileError(f"cannot load {str(path)!r}: {problem}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for key, value in pairs:
        if key in d:
            raise ValueError(f"the key {key!r} appears twice")
        d[key] = value
    return d


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"it contains {name}, which no saved value can be")
