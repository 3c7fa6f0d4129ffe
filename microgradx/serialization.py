"""Saving and loading state dicts as JSON: readable, diffable, and safe to open (no pickle, no code).

A file holds ``{"format": "microgradx", "version": 1, "state": {...}}``, where the state is what a
model's, an optimizer's or a schedule's ``state_dict()`` returns. ``load`` checks the file and
returns the state; ``load_state_dict`` then checks that the state fits the object before it writes
anything, so a bad file never leaves a model half loaded. JSON keeps every float exactly.

``load`` reads only what could be a save file: a regular file (not a folder, a named pipe or a
device) of at most ``MAX_BYTES`` (64 MiB, about two million parameters; ``max_bytes=`` raises it),
nested at most ``MAX_DEPTH`` deep (a real state is 4 deep), with finite numbers only. It checks the
size before reading and the nesting before parsing, so no file can make it hang, run out of memory
or overflow the stack.

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

import errno
import json
import math
import os
import re
import reprlib
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ._checks import whole_number
from ._files import with_errno, write_atomic

__all__ = ["save", "load", "SaveFileError", "FORMAT", "VERSION", "MAX_BYTES", "MAX_DEPTH"]

FORMAT = "microgradx"
VERSION = 1
MAX_BYTES = 64 * 2**20  # the largest file load() reads unless told otherwise: ~25 bytes per saved float
MAX_DEPTH = 100  # the deepest nesting of [ and { load() parses; a real save file is 4 deep


class SaveFileError(ValueError):
    """The file is not a microgradx save file that this version can read (the message says why)."""


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj``'s state (a model, an optimizer, a schedule, or a state dict) to ``path`` as JSON.

    The file is written next to its destination and then moved into place, so an interrupted or
    failed save never leaves a truncated file behind; an existing file keeps its permissions, and a
    symbolic link keeps pointing where it did (see :mod:`microgradx._files`). Raises ``TypeError``
    for anything without a state dict, and ``ValueError``, writing nothing, for a state that JSON
    cannot hold (a NaN) or that :func:`load` would refuse to read back (nested more than
    :data:`MAX_DEPTH` deep, a whole number beyond a float's range).
    """
    state = obj.state_dict() if hasattr(obj, "state_dict") else obj
    if not isinstance(state, Mapping):
        raise TypeError(f"save() takes a model, an optimizer, a schedule or a state dict, got {reprlib.repr(obj)}")
    too_deep = (f"save(): the state is nested more than {MAX_DEPTH} deep, which load() refuses; a state dict "
                "maps names to numbers, lists of numbers and small dicts of them")
    try:
        text = json.dumps({"format": FORMAT, "version": VERSION, "state": state}, indent=1, allow_nan=False)
    except (TypeError, ValueError) as error:  # e.g. a NaN, or a value JSON has no type for
        raise ValueError(f"save(): the state cannot be written as JSON: {error}") from None
    except RecursionError:  # far deeper still
        raise ValueError(too_deep) from None
    raw = text.encode("utf-8")
    if _may_nest_deeply(raw) and _nesting_depth(raw) > MAX_DEPTH:
        raise ValueError(too_deep)
    try:  # what save() writes, load() must read back: a file it refuses would be a save lost
        _decode(raw)
    except _Unreadable as error:
        raise ValueError(f"save(): load() would refuse this state: {error}") from None
    write_atomic(path, text + "\n")


def load(path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """Read a file written by :func:`save` and return the state dict in it.

    Raises :class:`SaveFileError`, naming the file and the problem, when it is not a regular file
    (a folder, a named pipe, a device), larger than ``max_bytes`` (default :data:`MAX_BYTES`),
    empty, not text, not valid JSON, nested more than :data:`MAX_DEPTH` deep, holds a number too
    large for a float, is not a microgradx file, is from a newer version, or has no state dict.
    A missing file raises ``FileNotFoundError`` and an unreadable one ``PermissionError``, with the
    system's errno, as ``open()`` does, and a message naming the path and the fix. The file is
    never read past ``max_bytes`` (a named pipe is not even opened).
    """
    path = Path(path)
    max_bytes = whole_number(max_bytes, "load(max_bytes)")
    raw = _read_regular_file(path, max_bytes)
    try:
        return _decode(raw)
    except _Unreadable as error:
        _fail(path, str(error))


class _Unreadable(ValueError):
    """Why bytes are not a save file load() reads (a sentence starting "it ...")."""


def _refuse(problem: str) -> NoReturn:
    raise _Unreadable(problem)


def _decode(raw: bytes) -> dict[str, Any]:
    """The state dict in a save file's bytes; raises :class:`_Unreadable` saying why there is none."""
    if not raw.strip():
        _refuse("it is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _refuse("it is not text (a microgradx file is UTF-8 JSON)")
    if _may_nest_deeply(raw) and (depth := _nesting_depth(raw)) > MAX_DEPTH:  # json would recurse once per level
        _refuse(f"it is nested {depth} deep; a save file is at most {MAX_DEPTH} deep (a real one is 4)")
    try:  # json's own float parsing (a Python call per float would double the time for a big model)
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants, parse_int=_short_int)
    except json.JSONDecodeError as error:
        _refuse(f"it is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
                "it may be truncated or corrupt")
    except ValueError as error:
        _refuse(str(error))
    if _has_infinity(data):  # 1e999 parses as inf
        _refuse(f"it contains the number {_huge_literal(raw)}, too large for a float")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        _refuse(f'it is JSON, but has no "format": "{FORMAT}" header')
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        _refuse(f"its format version is {version!r}, not a whole number >= 1")
    if version > VERSION:
        _refuse(f"it was written in format version {version} by a newer microgradx (this one reads up to "
                f"{VERSION}); upgrade microgradx to read it")
    if not isinstance(data.get("state"), dict):
        _refuse('it has no "state" dict')
    return data["state"]  # type: ignore[no-any-return]


def _read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path``, refused unless it is a regular file of at most ``max_bytes``."""
    try:
        _check_kind(path, os.stat(path))  # before open(): opening a named pipe would wait for a writer
        # O_NONBLOCK: should a pipe be swapped in after the check, open() still returns at once.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise with_errno(FileNotFoundError(f"cannot load {str(path)!r}: there is no such file; check the path"),
                         errno.ENOENT) from None
    except PermissionError:
        raise with_errno(PermissionError(f"cannot load {str(path)!r}: you have no permission to read it"),
                         errno.EACCES) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        _check_kind(path, info)  # the file actually opened
        if info.st_size > max_bytes:
            _too_large(path, f"{info.st_size:,} bytes", max_bytes)
        raw = f.read(max_bytes + 1)  # never more, even if the file grows (or its size was not told)
    if len(raw) > max_bytes:
        _too_large(path, f"over {max_bytes:,} bytes", max_bytes)
    return raw


def _check_kind(path: Path, info: os.stat_result) -> None:
    mode = info.st_mode
    if stat.S_ISREG(mode):
        return
    kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")
    _fail(path, f"it is {kind}, not a file; give the path of a file written by save()")


def _too_large(path: Path, size: str, max_bytes: int) -> NoReturn:
    _fail(path, f"it is {size}, more than load() reads ({max_bytes:,} bytes); if it really is a save file, "
                "pass a larger max_bytes= to read it")


# A JSON string: a quote, then runs of ordinary characters or escapes, then a quote. In UTF-8, the
# bytes of " and \ never occur inside other characters, so this works on the raw bytes.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


def _may_nest_deeply(raw: bytes) -> bool:
    """Whether ``raw`` has more than ``MAX_DEPTH`` opening brackets: a model's file has one or two."""
    return raw.count(b"[") + raw.count(b"{") > MAX_DEPTH


def _nesting_depth(raw: bytes, chunk: int = 2**20) -> int:
    """How deep ``[`` and ``{`` nest in the JSON text ``raw``, found without parsing it.

    Brackets inside strings do not count. The running depth is a cumulative sum of +1 per opening
    and -1 per closing bracket, done by numpy a chunk at a time, so a 64 MiB file takes well under
    a second. Up to the first syntax error this is exactly the depth a parser reaches.

    >>> _nesting_depth(b'{"a": [[1, 2], [3]], "b]": 4}')
    3
    """
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    deepest = level = 0
    for start in range(0, len(brackets), chunk):
        b = np.frombuffer(brackets, dtype=np.uint8, count=min(chunk, len(brackets) - start), offset=start)
        steps = np.where((b == ord("[")) | (b == ord("{")), 1, -1)
        levels = level + np.cumsum(steps)
        deepest, level = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


def _has_infinity(data: Any) -> bool:
    """Whether the parsed JSON ``data`` holds an inf (where a literal such as 1e999 overflowed).

    Each list or dict is first summed at C speed: a finite sum means finite members. Only where the
    sum is not finite, or cannot be taken (strings, nested lists), are its members looked at.

    >>> _has_infinity({"a": [1.0, 2.0], "b": {"c": [3.0, -1e999]}}), _has_infinity([1e308, 1e308, "x"])
    (True, False)
    """
    stack = [[data]]
    while stack:
        members = stack.pop()
        try:
            if math.isfinite(sum(members)):
                continue
        except (TypeError, OverflowError):  # not all numbers, or an int beyond the float range
            pass
        for x in members:
            if isinstance(x, dict):
                stack.append(list(x.values()))
            elif isinstance(x, list):
                stack.append(x)
            elif isinstance(x, float) and math.isinf(x):
                return True
    return False


_NUMBER = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def _huge_literal(raw: bytes) -> str:
    """The first number in ``raw`` that overflows a float, as written (for the error message)."""
    for match in _NUMBER.finditer(raw):
        if math.isinf(float(match.group())):
            return match.group().decode()[:40]
    return "inf"


def _short_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > 309:  # the largest float, 1.8e308, has 309 digits; Python's own limit would suggest a setting
        raise ValueError(f"it contains a whole number with {digits:,} digits, too large for a float")
    return int(text)


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
