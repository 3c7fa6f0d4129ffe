"""microgradx.train: fit does exactly the hand-written loop, learns micrograd's moons and a sine, keeps
a consistent history, stops cleanly on Ctrl-C, and shows (or hides) its progress bar."""

import math
import re
import signal

import numpy as np
import pytest

from microgradx import losses
from microgradx.data import make_blobs, make_moons, make_sine, minibatches
from microgradx.engine import Value
from microgradx.nn import MLP
from microgradx.optim import SGD, Adam, LinearLR
from microgradx.train import ACCURACY, History, evaluate, fit


def moons_demo(seed=0):
    """micrograd's demo: 100 moons with noise 0.1, labels -1/+1, MLP(2, [16, 16, 1]), SGD 1.0 -> 0.1."""
    X, y = make_moons(100, noise=0.1, seed=seed)
    model = MLP(2, [16, 16, 1], seed=seed)
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LinearLR(optimizer, start_factor=1.0, end_factor=0.1, total_iters=100)
    return X, 2 * y - 1, model, optimizer, schedule


def test_fit_is_the_loop_written_by_hand():
    X, y, model, optimizer, schedule = moons_demo()
    history = fit(model, X, y, loss="hinge", optimizer=optimizer, schedule=schedule, l2=1e-4,
                  epochs=3, batch_size=32, seed=5, progress=False)

    _, _, by_hand, optimizer, schedule = moons_demo()
    rng, step_losses = np.random.default_rng(5), []
    for _ in range(3):
        for X_batch, y_batch in minibatches(X, y, batch_size=32, seed=rng):
            loss = losses.hinge([by_hand(x) for x in X_batch], y_batch.tolist())
            loss = loss + 1e-4 * losses.l2(by_hand.parameters())
            by_hand.zero_grad()
            loss.backward()
            optimizer.step()
            step_losses.append(loss.data)
        schedule.step()
    assert model.state_dict() == by_hand.state_dict()
    assert history.step_loss == step_losses
    assert len(history.loss) == len(history.accuracy) == 3 and len(history.step_loss) == 3 * 4
    assert optimizer.lr == pytest.approx(1.0 - 0.9 * 3 / 100)


@pytest.mark.slow
def test_micrograds_moons_demo_reaches_full_training_accuracy():
    X, y, model, optimizer, schedule = moons_demo(seed=0)
    history = fit(model, X, y, loss="hinge", optimizer=optimizer, schedule=schedule, l2=1e-4,
                  epochs=100, progress=False)
    assert len(history.step_loss) == 100  # full batch: one step per epoch, as in the demo
    assert optimizer.lr == pytest.approx(0.1)
    assert evaluate(model, X, y, loss="hinge")[1] == 1.0
    assert history.accuracy[-1] == 1.0 and history.loss[-1] < history.loss[0] / 10


@pytest.mark.slow
def test_adam_fits_a_sine():
    X, y = make_sine(30, seed=0)
    model = MLP(1, [8, 8, 1], "tanh", init="xavier_uniform", seed=0)
    history = fit(model, X, y, loss="mse", optimizer=Adam(model.parameters(), lr=0.02), epochs=300, progress=False)
    loss, accuracy = evaluate(model, X, y, loss="mse")
    assert accuracy is None and history.accuracy == []  # no accuracy for a regression
    assert loss < 0.01 < 0.4 < history.loss[0]  # sin has variance 1/2 over a period: a 50x reduction


def test_cross_entropy_classifies_three_blobs():
    X, y = make_blobs(60, centers=[[-3, 0], [3, 0], [0, 4]], std=0.6, seed=0)
    model = MLP(2, [8, 3], seed=0)
    history = fit(model, X, y, loss=losses.cross_entropy, optimizer=Adam(model.parameters(), lr=0.05),
                  epochs=30, batch_size=20, seed=0, progress=False)
    assert evaluate(model, X, y, loss="cross_entropy")[1] == 1.0
    assert len(history.step_loss) == 30 * 3 and history.accuracy[-1] == 1.0


def test_a_custom_loss_and_accuracy():
    X, y = make_blobs(20, centers=[[-2, -2], [2, 2]], std=0.3, seed=0)
    model = MLP(2, [1], output_activation="sigmoid", seed=0)

    def squared_error(preds, targets):
        return sum(((p - t) ** 2 for p, t in zip(preds, targets)), Value(0.0))

    history = fit(model, X, y, loss=squared_error, accuracy=lambda p, t: float((p.data > 0.5) == t),
                  optimizer=SGD(model.parameters(), lr=0.1), epochs=20, progress=False)
    assert history.accuracy[-1] == 1.0


def test_history_repr():
    assert repr(History()) == "History(no epochs)"
    history = History(loss=[1.0, 0.5], accuracy=[0.5, 0.75], step_loss=[1.0, 0.5], interrupted=True)
    assert repr(history) == "History(2 epochs, 2 steps, loss 1 -> 0.5, accuracy 50.0% -> 75.0%, interrupted)"


# -- Ctrl-C -------------------------------------------------------------------------------------


@pytest.fixture
def sigint_unblocked():
    """SIGINT unblocked in this thread for the test, so a press is handled inside raise_signal().

    signal.raise_signal() sends the signal to the calling thread and CPython runs the Python handler
    before it returns. Were SIGINT blocked (a mask inherited from whatever started the tests), the
    press would stay pending and land at some later, arbitrary point: that would make these tests
    measure luck instead of fit.
    """
    before = signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    yield
    signal.pthread_sigmask(signal.SIG_SETMASK, before)


def interrupting(loss, at_call, presses=1):
    """A loss that presses Ctrl-C (sends SIGINT to this thread) during its call number ``at_call``.

    It checks that fit's own handler receives the press (not the handler fit replaced, which would
    raise KeyboardInterrupt into the test run) and that the press was handled there and then, in
    the middle of the step, not left pending for later.
    """
    calls = []
    outside = signal.getsignal(signal.SIGINT)

    def wrapped(preds, targets):
        calls.append(1)
        if len(calls) == at_call:
            assert signal.getsignal(signal.SIGINT) is not outside, "fit did not install its Ctrl-C handler"
            for _ in range(presses):
                signal.raise_signal(signal.SIGINT)
                assert signal.SIGINT not in signal.sigpending(), "the press was not handled during the step"
        return loss(preds, targets)

    return wrapped


@pytest.mark.parametrize(("at_step", "epochs_recorded"), [(6, 2), (4, 1), (1, 1)])
def test_ctrl_c_stops_after_the_current_step(at_step, epochs_recorded, sigint_unblocked):
    X, y = make_blobs(40, centers=[[-2, -2], [2, 2]], std=0.5, seed=0)
    y = 2 * y - 1
    model = MLP(2, [4, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=0.1)
    handler = signal.getsignal(signal.SIGINT)
    history = fit(model, X, y, loss=interrupting(losses.hinge, at_step), accuracy=ACCURACY[losses.hinge],
                  optimizer=optimizer, epochs=10, batch_size=10, seed=0, progress=False)
    assert signal.getsignal(signal.SIGINT) is handler  # restored
    # 4 steps per epoch: the step during which Ctrl-C came completed, then training stopped
    assert history.interrupted and len(history.step_loss) == at_step and optimizer.step_count == at_step
    assert len(history.loss) == len(history.accuracy) == epochs_recorded

    again = MLP(2, [4, 1], seed=0)
    opt = SGD(again.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    batches = [b for _ in range(2) for b in minibatches(X, y, 10, seed=rng)][:at_step]
    for X_batch, y_batch in batches:
        loss = losses.hinge([again(x) for x in X_batch], y_batch.tolist())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.state_dict() == again.state_dict()  # the model holds exactly the completed steps


def test_a_second_ctrl_c_interrupts_at_once(sigint_unblocked):
    X, y = make_blobs(20, centers=[[-2, -2], [2, 2]], std=0.5, seed=0)
    model = MLP(2, [2, 1], seed=0)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        fit(model, X, 2 * y - 1, loss=interrupting(losses.hinge, 2, presses=2),
            optimizer=SGD(model.parameters(), lr=0.1), epochs=5, batch_size=5, progress=False)
    assert signal.getsignal(signal.SIGINT) is handler


@pytest.mark.parametrize("at_step", [6, 4, 1])
def test_the_bar_and_the_ctrl_c_message_agree_on_the_step_count(at_step, sigint_unblocked, capsys):
    X, y = make_blobs(40, centers=[[-2, -2], [2, 2]], std=0.5, seed=0)
    model = MLP(2, [4, 1], seed=0)
    history = fit(model, X, 2 * y - 1, loss=interrupting(losses.hinge, at_step),
                  optimizer=SGD(model.parameters(), lr=0.1), epochs=10, batch_size=10, seed=0, progress=True)
    err = capsys.readouterr().err
    said = re.search(r"stopped by Ctrl-C after (\d+) of (\d+) steps \(in epoch (\d+) of 10\)", err)
    assert said, err
    shown = re.findall(r"(\d+)/(\d+) \[", err)[-1]  # the bar as it was left
    assert said.group(1, 2) == shown == (str(at_step), "40") == (str(len(history.step_loss)), "40")
    assert said.group(3) == str((at_step - 1) // 4 + 1)  # 4 steps per epoch


# -- progress bar -------------------------------------------------------------------------------------


def test_progress_bar_shows_and_hides(capsys):
    X, y = make_blobs(20, centers=[[-2, -2], [2, 2]], std=0.5, seed=0)
    model = MLP(2, [2, 1], seed=0)
    fit(model, X, 2 * y - 1, loss="hinge", optimizer=SGD(model.parameters(), lr=0.1), epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "fit" in err and "3/3" in err and "loss=" in err and "accuracy=" in err
    fit(model, X, 2 * y - 1, loss="hinge", optimizer=SGD(model.parameters(), lr=0.1), epochs=3, progress=False)
    assert capsys.readouterr() == ("", "")


# -- evaluate and errors -------------------------------------------------------------------------------


def test_evaluate_builds_no_graph_and_leaves_gradients_alone():
    X, y = make_blobs(10, centers=[[-2, -2], [2, 2]], std=0.5, seed=0)
    model = MLP(2, [3, 1], seed=0)
    for p in model.parameters():
        p.grad = 0.25
    loss, accuracy = evaluate(model, X, 2 * y - 1, loss="hinge")
    assert isinstance(loss, float) and 0 <= accuracy <= 1
    assert all(p.grad == 0.25 for p in model.parameters())


def test_fit_errors():
    X, y = make_blobs(10, centers=[[-2, -2], [2, 2]], seed=0)
    model = MLP(2, [1], seed=0)
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="unknown loss 'svm'; choose one of mse, hinge"):
        fit(model, X, y, loss="svm", optimizer=opt, progress=False)
    with pytest.raises(ValueError, match=r"not this model's: make it with model.parameters\(\)"):
        fit(model, X, y, loss="mse", optimizer=SGD(MLP(2, [1]).parameters(), lr=0.1), progress=False)
    with pytest.raises(ValueError, match="epochs must be a whole number >= 1, got 0"):
        fit(model, X, y, loss="mse", optimizer=opt, epochs=0, progress=False)
    with pytest.raises(ValueError, match="X has 10 rows but y has 9 entries"):
        fit(model, X, y[:-1], loss="mse", optimizer=opt, progress=False)
    with pytest.raises(ValueError, match="hinge\\(\\) needs labels -1 or \\+1"):
        fit(model, X, y, loss="hinge", optimizer=opt, progress=False)
    with pytest.raises(TypeError, match="optimizer must be an optimizer"):
        fit(model, X, y, loss="mse", optimizer="adam", progress=False)
    for l2 in (-1e-4, math.inf, True, "1e-4"):
        with pytest.raises(ValueError, match="l2 is the weight of the L2 penalty, a number >= 0"):
            fit(model, X, y, loss="mse", optimizer=opt, l2=l2, progress=False)
    assert opt.step_count == 0  # every refusal came before the first step


@pytest.mark.parametrize("compiled", [False, True], ids=["scalar", "compiled"])
def test_accuracy_with_class_probability_targets_is_the_accuracy_of_their_classes(compiled: bool) -> None:
    from microgradx.data import load_iris, one_hot

    X, y = load_iris()
    model = MLP(4, [8, 3], seed=0)
    _, by_index = evaluate(model, X, y, loss="cross_entropy", compile=compiled)
    _, by_one_hot = evaluate(model, X, one_hot(y, 3), loss="cross_entropy", compile=compiled)
    _, by_smoothed = evaluate(model, X, 0.9 * one_hot(y, 3) + 0.1 / 3, loss="cross_entropy", compile=compiled)
    predicted = np.array([max(range(3), key=lambda k: model(x)[k].data) for x in X.tolist()])
    assert by_index == by_one_hot == by_smoothed == float(np.mean(predicted == y))


def test_a_step_that_fails_keeps_the_completed_steps_history_on_the_error():
    X, y = make_blobs(40, centers=[[-2, -2], [2, 2]], std=0.5, seed=0)
    model = MLP(2, [4, 1], seed=0)
    calls = []

    def breaking(preds, targets):  # the 6th step's loss fails (a user's loss with a bug, say)
        calls.append(1)
        if len(calls) == 6:
            raise ZeroDivisionError("the user's loss broke")
        return losses.hinge(preds, targets)

    with pytest.raises(ZeroDivisionError) as caught:
        fit(model, X, 2 * y - 1, loss=breaking, optimizer=SGD(model.parameters(), lr=0.1), epochs=10,
            batch_size=10, seed=0, progress=False)
    history = caught.value.history
    assert isinstance(history, History) and len(history.step_loss) == 5  # the steps before the 6th
    assert len(history.loss) == 1  # epoch 1 (4 steps) completed
    if hasattr(caught.value, "add_note"):
        assert "the History of the 5 completed steps is on this error as .history" in caught.value.__notes__[0]


def test_fit_trains_one_epoch_by_default():
    X, y = make_blobs(20, centers=[[-2, -2], [2, 2]], std=0.5, seed=0)
    model = MLP(2, [2, 1], seed=0)
    history = fit(model, X, 2 * y - 1, loss="hinge", optimizer=SGD(model.parameters(), lr=0.1), batch_size=5,
                  progress=False)
    assert len(history.loss) == 1 and len(history.step_loss) == 4


@pytest.mark.parametrize("accuracy", [None, lambda score, label: float(label > 0) * (score.data > 0.5)])
def test_compiled_fit_records_the_same_accuracy_as_the_scalar_path(accuracy):
    # the default rule, and a user's rule that is not symmetric in its arguments (prediction first).
    # tanh, not relu: an example on which every relu is off scores the output bias alone, and with
    # balanced batches that bias is 0 up to rounding (0.0 compiled, 3.5e-18 scalar): its sign is
    # rounding's choice on either path.
    X, y = make_blobs(30, centers=[[-1, -1], [1, 1]], std=0.8, seed=1)
    runs = []
    for compile in (False, True):
        model = MLP(2, [4, 1], activation="tanh", seed=0)
        runs.append(fit(model, X, 2 * y - 1, loss="hinge", optimizer=SGD(model.parameters(), lr=0.1), epochs=4,
                        batch_size=10, seed=0, accuracy=accuracy, progress=False, compile=compile))
    scalar, compiled = runs
    assert len(scalar.accuracy) == 4 and scalar.accuracy == compiled.accuracy
    assert 0 < scalar.accuracy[-1] <= 1
