"""Fuzzing what users load: save files (arbitrary bytes, JSON-like token soup, real files mutated)
and the state dicts of optimizers and schedules (real ones, mutated).

The properties, for every input hypothesis finds:
- ``load`` returns a state dict or raises ``SaveFileError`` with a message that names the file;
  nothing else escapes (no RecursionError, OverflowError, UnicodeError, no hang). A state it
  returns is saved and loaded back unchanged.
- ``load_state_dict`` of a model, an optimizer or a schedule either accepts the state, or raises
  ``ValueError``/``TypeError`` and the object is exactly as before.
- A state an optimizer or a schedule accepted is usable: the next ``step()`` either works and leaves
  every parameter and buffer finite, or raises its own clear ``ValueError`` and changes nothing.

Budgets are sized for CI (a few seconds per test); the named tests of each failure mode found this
way live beside the code's other tests (test_serialization.py, test_optim.py).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx.engine import Value
from microgradx.nn import MLP
from microgradx.optim import (
    SGD,
    Adam,
    AdamW,
    CosineAnnealingLR,
    LambdaLR,
    LinearLR,
    RMSProp,
    StepLR,
)
from microgradx.serialization import MAX_DEPTH, SaveFileError, load, save


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# -- the objects whose states are fuzzed --------------------------------------------------------

OPTIMIZERS = {
    "SGD": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "RMSProp": lambda ps: RMSProp(ps, lr=0.01, momentum=0.5),
    "Adam": lambda ps: Adam(ps, lr=0.05, weight_decay=0.01),
    "AdamW": lambda ps: AdamW(ps, lr=0.05),
}
SCHEDULES = {
    "StepLR": lambda o: StepLR(o, step_size=2, gamma=0.5),
    "CosineAnnealingLR": lambda o: CosineAnnealingLR(o, T_max=10, eta_min=0.01),
    "LinearLR": lambda o: LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=20),
    "LambdaLR": lambda o: LambdaLR(o, lambda t: 0.9**t),
    "StepLR growing": lambda o: StepLR(o, step_size=1, gamma=3.0),  # its lr overflows after ~650 steps
}


def trained_optimizer(name: str) -> tuple[list[Value], Any]:
    """Two parameters and an optimizer that has taken two steps (non-zero buffers)."""
    ps = [Value(1.0, label="a"), Value(-2.0, label="b")]
    opt = OPTIMIZERS[name](ps)
    for g in (0.5, -0.25):
        ps[0].grad, ps[1].grad = g, 2 * g
        opt.step()
    return ps, opt


def stepped_schedule(name: str) -> Any:
    schedule = SCHEDULES[name](SGD([Value(0.0)], lr=0.5))
    for _ in range(3):
        schedule.step()
    return schedule


# -- mutating a state dict ------------------------------------------------------------------------

ODD_VALUES = st.sampled_from([
    -1.0, -1e-300, 0.0, -0.0, 1e-320, 1e308, -1e308, 1.0, 2, 2**53 - 1, 2**53, 2**64, 10**400, -(10**400),
    True, False, None, "1", "", [], {}, [1.0], {"a": 1.0}, math.inf, -math.inf, math.nan,
])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
# The odd values twice as often; each drawn value a fresh copy, since a mutation may later change it.
VALUES = st.one_of(ODD_VALUES, ODD_VALUES, JSON_VALUES).map(copy.deepcopy)
GRADS = st.sampled_from([0.5, -1.5, 0.0, 1e-300, 1e200, -1e300, 1.7e308])


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside obj (a path of keys and indices), the root excluded."""
    found = []
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


def mutate(data: st.DataObject, state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with one to three places replaced, deleted, or given a new neighbour."""
    state = copy.deepcopy(state)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = _paths(state)
        path = data.draw(st.sampled_from(paths), label="where")
        parent: Any = state
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
        if action == "replace":
            parent[key] = data.draw(VALUES, label="value")
        elif action == "delete" and (len(parent) > 1 or parent is not state):
            del parent[key]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(max_size=10), label="new key")] = data.draw(VALUES, label="value")
        else:
            parent.insert(key, data.draw(VALUES, label="value"))
    return state


def snapshot_optimizer(ps: list[Value], opt: Any) -> tuple[Any, ...]:
    return (json.dumps(opt.state_dict()), [p.data for p in ps], opt.lr)


def assert_step_is_usable(ps: list[Value], opt: Any, grads: tuple[float, float]) -> None:
    """The next step works and leaves everything finite, or raises its own error and changes nothing."""
    ps[0].grad, ps[1].grad = grads
    before = snapshot_optimizer(ps, opt)
    try:
        opt.step()
    except ValueError as error:  # its own message, not math's "math domain error" or an OverflowError
        assert str(error).startswith(f"{type(opt).__name__}.step()"), error
        assert snapshot_optimizer(ps, opt) == before
    else:
        assert all(math.isfinite(p.data) for p in ps)
        assert all(math.isfinite(x) for buffer in opt.state.values() for x in buffer)


@settings(max_examples=examples(300))
@given(st.sampled_from(sorted(OPTIMIZERS)), st.data())
def test_a_mutated_optimizer_state_is_accepted_usable_or_refused_without_change(name, data):
    _, trained = trained_optimizer(name)
    state = mutate(data, trained.state_dict())
    ps = [Value(0.5, label="a"), Value(0.25, label="b")]
    opt = OPTIMIZERS[name](ps)
    before = snapshot_optimizer(ps, opt)
    try:
        opt.load_state_dict(state)
    except (ValueError, TypeError):
        assert snapshot_optimizer(ps, opt) == before
        return
    json.dumps(opt.state_dict(), allow_nan=False)  # what it accepted can be saved: finite plain data
    assert [p.data for p in ps] == [0.5, 0.25]  # an optimizer's state holds no parameter values
    assert_step_is_usable(ps, opt, data.draw(st.tuples(GRADS, GRADS), label="grads"))


@settings(max_examples=examples(300))
@given(st.sampled_from(sorted(SCHEDULES)), st.data())
def test_a_mutated_schedule_state_is_accepted_usable_or_refused_without_change(name, data):
    state = mutate(data, stepped_schedule(name).state_dict())
    schedule = SCHEDULES[name](SGD([Value(0.0)], lr=0.3))
    schedule.step()

    def snapshot() -> tuple[Any, ...]:
        return schedule.base_lr, schedule.step_count, schedule.optimizer.lr

    before = snapshot()
    try:
        schedule.load_state_dict(state)
    except (ValueError, TypeError):
        assert snapshot() == before
        return
    assert math.isfinite(schedule.optimizer.lr) and schedule.optimizer.lr >= 0
    loaded = snapshot()
    try:
        schedule.step()
    except ValueError as error:
        assert str(error).startswith(type(schedule).__name__), error
        assert snapshot() == loaded
    else:
        assert math.isfinite(schedule.optimizer.lr) and schedule.optimizer.lr >= 0


# -- load(): arbitrary bytes, token soup, real files mutated -----------------------------------------


def load_bytes(scratch: Path, content: bytes) -> dict[str, Any] | None:
    """load() of a file holding ``content``: its state, or None after a SaveFileError naming the file."""
    path = scratch / "fuzzed.json"
    path.write_bytes(content)
    try:
        state = load(path)
    except SaveFileError as error:
        assert str(error).startswith(f"cannot load {str(path)!r}: "), error
        return None
    assert isinstance(state, dict)
    save(state, scratch / "again.json")  # whatever load() accepts, save() writes and load() reads back as it was
    assert load(scratch / "again.json") == state
    return state


@settings(max_examples=examples(300))
@given(st.binary(max_size=200))
def test_load_of_arbitrary_bytes_gives_a_state_or_a_save_file_error(scratch, content):
    load_bytes(scratch, content)


TOKENS = st.sampled_from([
    "[", "]", "{", "}", ":", ",", " ", '"a"', '"format"', '"microgradx"', '"version"', '"state"', "1", "-0", "1.5",
    "1e999", "-1e400", "9" * 320, "NaN", "Infinity", "true", "null", '"\\ud800"', '"\\"', '"[{"', "\xff", "\ufeff",
])
HEADER = '{"format": "microgradx", "version": 1, "state": '


@settings(max_examples=examples(300))
@given(st.booleans(), st.lists(TOKENS, max_size=40), st.integers(0, 2 * MAX_DEPTH) | st.integers(0, 5000))
def test_load_of_json_like_token_soup_gives_a_state_or_a_save_file_error(scratch, header, tokens, nesting):
    text = (HEADER if header else "") + "[" * nesting + "".join(tokens)
    load_bytes(scratch, text.encode("utf-8", "surrogatepass"))


def real_files() -> dict[str, tuple[bytes, Any]]:
    """Real save files, each with a maker of a fresh object of its kind."""
    files = {}
    model = MLP(2, [3, 1], seed=0)
    files["model"] = (model.state_dict(), lambda: MLP(2, [3, 1], seed=1))
    for name in OPTIMIZERS:
        files[name] = (trained_optimizer(name)[1].state_dict(), lambda name=name: OPTIMIZERS[name](
            [Value(0.5, label="a"), Value(0.25, label="b")]))
    for name in SCHEDULES:
        files[name] = (stepped_schedule(name).state_dict(), lambda name=name: SCHEDULES[name](
            SGD([Value(0.0)], lr=0.3)))
    as_text = {}
    for kind, (state, make) in files.items():
        as_text[kind] = (json.dumps({"format": "microgradx", "version": 1, "state": state}, indent=1).encode(), make)
    return as_text


REAL_FILES = real_files()


@st.composite
def mutated_bytes(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with a few bytes deleted, inserted, replaced, or the end cut off."""
    content = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(content)))
        action = draw(st.sampled_from(["delete", "insert", "replace", "truncate"]))
        if action == "delete":
            del content[at:at + draw(st.integers(1, 8))]
        elif action == "insert":
            content[at:at] = draw(st.binary(min_size=1, max_size=4) | TOKENS.map(lambda t: t.encode()))
        elif action == "replace" and at < len(content):
            content[at] = draw(st.integers(0, 255))
        elif action == "truncate":
            del content[at:]
    return bytes(content)


def snapshot(obj: Any) -> str:
    extra = [obj.optimizer.lr] if hasattr(obj, "optimizer") else [p.data for p in getattr(obj, "params", [])]
    return json.dumps([obj.state_dict(), extra])


@settings(max_examples=examples(400))
@given(st.sampled_from(sorted(REAL_FILES)), st.data())
def test_a_mutated_real_save_file_loads_into_an_object_or_changes_nothing(scratch, kind, data):
    original, make = REAL_FILES[kind]
    state = load_bytes(scratch, data.draw(mutated_bytes(original), label="file"))
    if state is None:
        return
    target = make()
    before = snapshot(target)
    try:
        target.load_state_dict(state)
    except (ValueError, TypeError):
        assert snapshot(target) == before
