"""no_grad and enable_grad in every form PyTorch supports, per thread and per task."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Iterator

import pytest

from microgradx import Value, enable_grad, is_grad_enabled, no_grad
from microgradx.anomaly import detect_anomaly, is_anomaly_enabled

MODES = [(no_grad, False), (enable_grad, True)]


def _records() -> bool:
    """Whether an op made now is recorded (what the modes are about), read from the graph itself."""
    return (Value(1.0) * 2)._prev != ()


@pytest.mark.parametrize("bare", [True, False], ids=["@no_grad", "@no_grad()"])
def test_decorated_functions_and_methods_keep_name_docstring_and_signature(bare: bool) -> None:
    decorate = no_grad if bare else no_grad()

    class Model:
        @decorate
        def predict(self, x: float, *, scale: float = 2.0) -> tuple[bool, float]:
            """Predict without a graph."""
            return _records(), x * scale

    def helper(x: float, y: float = 1.0) -> bool:
        """A plain function."""
        return _records()

    wrapped = decorate(helper)
    assert Model().predict(3.0) == (False, 6.0)
    assert Model().predict(3.0, scale=1.0) == (False, 3.0)
    assert wrapped(1.0) is False and _records()
    assert (wrapped.__name__, wrapped.__doc__) == ("helper", "A plain function.")
    assert str(inspect.signature(wrapped)) == str(inspect.signature(helper))
    assert Model.predict.__name__ == "predict" and Model.predict.__doc__ == "Predict without a graph."


def test_enable_grad_decorator_inside_no_grad() -> None:
    @enable_grad
    def recorded() -> bool:
        return _records()

    with no_grad():
        assert recorded() is True and not _records()


def test_a_generator_runs_its_body_in_the_mode_and_the_caller_between_yields_outside_it() -> None:
    @no_grad
    def steps(n: int) -> Iterator[bool]:
        for _ in range(n):
            received = yield _records()
            assert received is None or received == "ping"
        return None

    assert inspect.isgeneratorfunction(steps)
    seen = []
    for inside in steps(3):
        seen.append((inside, _records()))  # the caller's own code between yields: gradients on
    assert seen == [(False, True)] * 3
    gen = steps(2)
    assert next(gen) is False and gen.send("ping") is False
    with pytest.raises(StopIteration):
        next(gen)


def test_a_generator_gets_exceptions_thrown_in_and_is_closed_in_the_mode() -> None:
    log = []

    @no_grad()
    def worker() -> Iterator[int]:
        try:
            yield 1
            yield 2
        except KeyError:
            log.append(("caught", _records()))
            yield 3
        finally:
            log.append(("closing", _records()))

    gen = worker()
    assert next(gen) == 1
    assert gen.throw(KeyError("x")) == 3
    gen.close()
    assert log == [("caught", False), ("closing", False)] and _records()


def test_async_functions_keep_the_mode_across_awaits_and_tasks_do_not_leak() -> None:
    @no_grad
    async def slow() -> list[bool]:
        seen = [_records()]
        await asyncio.sleep(0.01)
        seen.append(_records())
        return seen

    async def other() -> bool:
        await asyncio.sleep(0.005)  # runs while slow() is suspended inside its no_grad
        return _records()

    async def main() -> tuple[list[bool], bool]:
        return await asyncio.gather(slow(), other())  # type: ignore[return-value]

    assert inspect.iscoroutinefunction(slow)
    assert asyncio.run(main()) == [[False, False], True]


def test_one_instance_entered_from_two_threads_at_once_restores_each_thread() -> None:
    mode = no_grad()
    both_inside = threading.Barrier(2, timeout=5)
    first_left = threading.Event()
    seen: dict[str, bool] = {}

    def worker(name: str) -> None:
        with mode:
            both_inside.wait()
            if name == "b":
                first_left.wait(5)  # leave after the other thread has left
            seen[name + " inside"] = is_grad_enabled()
        if name == "a":
            first_left.set()
        seen[name + " after"] = is_grad_enabled()

    threads = [threading.Thread(target=worker, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a inside": False, "b inside": False, "a after": True, "b after": True}
    assert is_grad_enabled()


def test_nested_instances_and_reuse_restore_in_order() -> None:
    mode = no_grad()
    with mode:
        with enable_grad():
            assert is_grad_enabled()
            with mode:  # the same instance again, nested
                assert not is_grad_enabled()
            assert is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_anomaly_mode_is_independent_of_recording() -> None:
    with detect_anomaly():
        with no_grad():
            assert is_anomaly_enabled() and not is_grad_enabled()
        assert is_anomaly_enabled() and is_grad_enabled()
    assert not is_anomaly_enabled()


def test_decorating_something_that_is_not_a_function_says_so() -> None:
    with pytest.raises(TypeError, match="no_grad decorates a function"):
        no_grad()(3)  # type: ignore[arg-type]

    async def agen() -> object:
        yield 1

    with pytest.raises(TypeError, match="cannot decorate an async generator function"):
        no_grad(agen)
