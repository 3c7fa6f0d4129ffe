"""microgradx.optim: the first steps of every optimizer against its rule worked out by hand, state
saving and resuming, all-or-nothing updates, schedules and gradient clipping."""

import math

import pytest

from microgradx.engine import Value
from microgradx.nn import MLP
from microgradx.optim import (
    MAX_STEP_COUNT,
    SGD,
    Adam,
    AdamW,
    CosineAnnealingLR,
    LambdaLR,
    LinearLR,
    RMSProp,
    StepLR,
    clip_grad_norm,
)

GRADS = [0.5, -0.2, 0.1]  # the gradient at steps 1, 2, 3 (set by hand: the rules see only p and g)


def run(opt_class, steps=2, p0=1.0, **kwargs):
    """The parameter after each of ``steps`` steps, starting from p0 with the gradients of GRADS."""
    p = Value(p0)
    opt = opt_class([p], **kwargs)
    trajectory = []
    for g in GRADS[:steps]:
        p.grad = g
        opt.step()
        trajectory.append(p.data)
    return trajectory


# -- first steps by hand ------------------------------------------------------------------------


def test_sgd_by_hand():
    # p -= lr g
    assert run(SGD, lr=0.1) == pytest.approx([1 - 0.05, 0.95 + 0.02], abs=1e-15)
    # momentum 0.9: v1 = 0.5, p1 = 1 - 0.1 * 0.5 = 0.95; v2 = 0.9 * 0.5 - 0.2 = 0.25, p2 = 0.95 - 0.025
    assert run(SGD, lr=0.1, momentum=0.9) == pytest.approx([0.95, 0.925], abs=1e-15)
    # nesterov: step 1 uses g + 0.9 v1 = 0.95 -> p1 = 0.905; step 2: v2 = 0.25, -0.2 + 0.225 = 0.025 -> 0.9025
    assert run(SGD, lr=0.1, momentum=0.9, nesterov=True) == pytest.approx([0.905, 0.9025], abs=1e-15)
    # weight decay 0.1: g1 = 0.5 + 0.1 * 1 = 0.6 -> p1 = 0.94; g2 = -0.2 + 0.094 = -0.106 -> p2 = 0.9506
    assert run(SGD, lr=0.1, weight_decay=0.1) == pytest.approx([0.94, 0.9506], abs=1e-15)
    # all three: g1 = 0.6, v1 = 0.6, step 0.6 + 0.54 = 1.14 -> 0.886;
    # g2 = -0.2 + 0.0886 = -0.1114, v2 = 0.54 - 0.1114 = 0.4286, step -0.1114 + 0.38574 = 0.27434 -> 0.858566
    assert run(SGD, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1) == pytest.approx(
        [0.886, 0.858566], abs=1e-12
    )


def test_sgd_matches_micrograds_update():
    model = MLP(2, [3, 1], seed=0)
    model([0.5, -1.0]).backward()
    expected = [p.data - 0.3 * p.grad for p in model.parameters()]  # micrograd: p.data -= lr * p.grad
    SGD(model.parameters(), lr=0.3).step()
    assert [p.data for p in model.parameters()] == expected


def test_rmsprop_by_hand():
    eps = 1e-8
    # s1 = 0.01 * 0.25 = 0.0025, sqrt 0.05: p1 = 1 - 0.01 * 0.5 / 0.05 = 0.9
    # s2 = 0.99 * 0.0025 + 0.01 * 0.04 = 0.002875: p2 = 0.9 + 0.01 * 0.2 / sqrt(0.002875)
    p1 = 1 - 0.01 * 0.5 / (0.05 + eps)
    p2 = p1 + 0.01 * 0.2 / (math.sqrt(0.002875) + eps)
    assert run(RMSProp, lr=0.01) == pytest.approx([p1, p2], rel=1e-12)
    # momentum 0.5: b1 = 0.5 / 0.05 = 10 -> p1 = 0.9; b2 = 5 - 0.2 / sqrt(0.002875) -> p2 = 0.9 - 0.01 b2
    b1 = 0.5 / (0.05 + eps)
    b2 = 0.5 * b1 - 0.2 / (math.sqrt(0.002875) + eps)
    assert run(RMSProp, lr=0.01, momentum=0.5) == pytest.approx([1 - 0.01 * b1, 1 - 0.01 * b1 - 0.01 * b2], rel=1e-12)
    # weight decay 1: g1 = 0.5 + 1 = 1.5, s1 = 0.0225, sqrt 0.15 -> p1 = 1 - 0.01 * 1.5 / 0.15 = 0.9
    assert run(RMSProp, steps=1, lr=0.01, weight_decay=1.0) == pytest.approx([1 - 0.01 * 1.5 / (0.15 + eps)], rel=1e-12)


def test_adam_by_hand():
    eps = 1e-8
    # t = 1: m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025; m_hat = 0.05 / 0.1 = 0.5, v_hat = 0.00025 / 0.001 = 0.25
    p1 = 1 - 0.1 * 0.5 / (math.sqrt(0.25) + eps)
    # t = 2: m = 0.9 * 0.05 - 0.1 * 0.2 = 0.025, v = 0.999 * 0.00025 + 0.001 * 0.04 = 0.00028975
    # m_hat = 0.025 / (1 - 0.81) = 0.025 / 0.19, v_hat = 0.00028975 / (1 - 0.998001) = 0.00028975 / 0.001999
    p2 = p1 - 0.1 * (0.025 / 0.19) / (math.sqrt(0.00028975 / 0.001999) + eps)
    assert run(Adam, lr=0.1) == pytest.approx([p1, p2], rel=1e-12)
    # weight decay 0.5 goes into the gradient: g1 = 0.5 + 0.5 = 1.0, so m_hat = 1, v_hat = 1
    assert run(Adam, steps=1, lr=0.1, weight_decay=0.5) == pytest.approx([1 - 0.1 / (1 + eps)], rel=1e-12)


def test_adam_state_is_the_moments():
    p = Value(1.0)
    opt = Adam([p], lr=0.1)
    for g in GRADS[:2]:
        p.grad = g
        opt.step()
    assert opt.step_count == 2
    assert opt.state["exp_avg"] == pytest.approx([0.025], rel=1e-12)
    assert opt.state["exp_avg_sq"] == pytest.approx([0.00028975], rel=1e-12)


def test_adamw_by_hand():
    eps = 1e-8
    # decay first, outside the moments: p = 1 - 0.1 * 0.1 * 1 = 0.99, then Adam's step 0.1 * 0.5 / 0.5
    p1 = 0.99 - 0.1 * 0.5 / (0.5 + eps)
    p2 = p1 - 0.1 * 0.1 * p1 - 0.1 * (0.025 / 0.19) / (math.sqrt(0.00028975 / 0.001999) + eps)
    assert run(AdamW, lr=0.1, weight_decay=0.1) == pytest.approx([p1, p2], rel=1e-12)
    assert AdamW([Value(0.0)]).weight_decay == 0.01  # PyTorch's default


def test_zero_grad_and_repr():
    ps = [Value(1.0), Value(2.0)]
    ps[0].grad, ps[1].grad = 3.0, 4.0
    opt = SGD(ps, lr=0.1, momentum=0.9)
    opt.zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]
    assert repr(opt) == "SGD(lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0)"
    assert repr(Adam(ps)) == "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)"


# -- state: inspect, save, resume ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opt_class", "kwargs"),
    [
        (SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        (RMSProp, {"lr": 0.01, "momentum": 0.5}),
        (Adam, {"lr": 0.05, "weight_decay": 0.01}),
        (AdamW, {"lr": 0.05}),
    ],
)
def test_resuming_from_a_state_dict_continues_exactly(opt_class, kwargs):
    def train(model, opt, steps):
        for k in range(steps):
            opt.zero_grad()
            ((model([0.5, -1.0 + k / 10]) - 1.0) ** 2).backward()
            opt.step()

    straight = MLP(2, [3, 1], "tanh", seed=0)
    opt = opt_class(straight.parameters(), **kwargs)
    train(straight, opt, 3)
    model_state, opt_state = straight.state_dict(), opt.state_dict()
    train(straight, opt, 3)

    resumed = MLP(2, [3, 1], "tanh", seed=1)
    resumed.load_state_dict(model_state)
    opt2 = opt_class(resumed.parameters(), lr=123.0)  # hyperparameters come back from the state too
    opt2.load_state_dict(opt_state)
    assert opt2.lr == kwargs["lr"] and opt2.step_count == 3
    train(resumed, opt2, 3)
    assert resumed.state_dict() == straight.state_dict()


def test_optimizer_state_dict_is_plain_data():
    opt = Adam([Value(1.0), Value(2.0)], lr=0.1)
    assert opt.state_dict() == {
        "type": "Adam",
        "hyperparameters": {"lr": 0.1, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0},
        "step_count": 0,
        "state": {"exp_avg": [0.0, 0.0], "exp_avg_sq": [0.0, 0.0]},
    }


def test_load_state_dict_checks_everything_first():
    ps = [Value(1.0), Value(2.0)]
    opt = Adam(ps, lr=0.1)
    good = Adam([Value(0.0), Value(0.0)], lr=0.5).state_dict()
    good["state"]["exp_avg"] = [1.0, 2.0]
    before = opt.state_dict()

    def broken(change):
        state = {**good, "hyperparameters": dict(good["hyperparameters"]),
                 "state": {k: list(v) for k, v in good["state"].items()}}
        change(state)
        return state

    cases = [
        (lambda s: s.update(type="SGD"), "this is the state of a 'SGD' optimizer, not of Adam"),
        (lambda s: s.pop("step_count"), "state dict is missing the key 'step_count'"),
        (lambda s: s.update(extra=1), "state dict has an unexpected key 'extra'"),
        (lambda s: s["hyperparameters"].pop("eps"), "hyperparameters is missing the key 'eps'"),
        (lambda s: s["hyperparameters"].update(lr=-1), r"lr must be a finite number >= 0, got -1"),
        (lambda s: s["hyperparameters"].update(betas=[0.9, 1.0]), r"betas\[1\] must be a number in \[0, 1\)"),
        (lambda s: s.update(step_count=-2), "step_count must be a whole number from 0 to 9007199254740991, got -2"),
        (lambda s: s["state"]["exp_avg"].pop(), r"needs one number per parameter \(2\), got 1 values"),
        (lambda s: s["state"]["exp_avg_sq"].__setitem__(1, "x"),
         r"state\['exp_avg_sq'\]\[1\] must be a finite number >= 0, got 'x'"),
        (lambda s: s["state"].pop("exp_avg"), "state is missing the key 'exp_avg'"),
    ]
    for change, message in cases:
        with pytest.raises((ValueError, TypeError), match=message):
            opt.load_state_dict(broken(change))
        assert opt.state_dict() == before
    with pytest.raises(TypeError, match="needs a dict"):
        opt.load_state_dict([1, 2])
    opt.load_state_dict(good)
    assert opt.lr == 0.5 and opt.state["exp_avg"] == [1.0, 2.0]


def test_a_step_that_would_overflow_changes_nothing():
    ps = [Value(1.0, label="a"), Value(1e308, label="b")]
    ps[0].grad, ps[1].grad = 1.0, -1e308
    opt = SGD(ps, lr=10.0, momentum=0.9)
    with pytest.raises(ValueError, match="would make b inf: the step is too large; lower lr"):
        opt.step()
    assert [p.data for p in ps] == [1.0, 1e308] and opt.step_count == 0
    assert opt.state["momentum_buffer"] == [0.0, 0.0]  # a's buffer, updated before b failed, is restored


def test_bad_arguments():
    p = Value(1.0)
    with pytest.raises(TypeError, match=r"takes the parameters, not the model: pass model.parameters\(\)"):
        SGD(MLP(2, [1]), lr=0.1)
    with pytest.raises(ValueError, match="got no parameters"):
        Adam([])
    with pytest.raises(TypeError, match=r"parameters must be Values, got 1\.0"):
        SGD([1.0], lr=0.1)
    with pytest.raises(ValueError, match="the same parameter twice"):
        SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match=r"lr must be a finite number >= 0, got -0.1"):
        SGD([p], lr=-0.1)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"betas\[0\] must be a number in \[0, 1\), got 1"):
        Adam([p], betas=(1, 0.999))
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]"):
        RMSProp([p], alpha=1.5)


# -- schedules ----------------------------------------------------------------------------------


def lrs(schedule_class, steps, lr=1.0, **kwargs):
    opt = SGD([Value(0.0)], lr=lr)
    schedule = schedule_class(opt, **kwargs)
    out = [opt.lr]
    for _ in range(steps):
        schedule.step()
        out.append(opt.lr)
    return out


def test_schedules():
    assert lrs(StepLR, 5, step_size=2, gamma=0.5) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert lrs(CosineAnnealingLR, 4, lr=2.0, T_max=4, eta_min=0.0) == pytest.approx(
        [2.0, 1 + math.cos(math.pi / 4), 1.0, 1 - math.cos(math.pi / 4), 0.0]
    )
    # micrograd's demo: lr = 1.0 - 0.9 * k / 100 at step k
    assert lrs(LinearLR, 120, start_factor=1.0, end_factor=0.1, total_iters=100) == pytest.approx(
        [1.0 - 0.9 * min(k, 100) / 100 for k in range(121)], abs=1e-12
    )
    assert lrs(LinearLR, 5)[0] == pytest.approx(1 / 3)  # PyTorch's defaults start at a third
    assert lrs(LambdaLR, 3, lr=0.1, lr_lambda=lambda t: 0.5**t) == pytest.approx([0.1, 0.05, 0.025, 0.0125])


def test_schedule_state_dict_resumes():
    opt = SGD([Value(0.0)], lr=1.0)
    schedule = StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        schedule.step()
    state = schedule.state_dict()
    assert state == {"type": "StepLR", "base_lr": 1.0, "step_count": 3,
                     "hyperparameters": {"step_size": 2, "gamma": 0.5}}
    opt2 = SGD([Value(0.0)], lr=1.0)
    schedule2 = StepLR(opt2, step_size=5, gamma=0.1)  # the saved hyperparameters win, as in PyTorch
    schedule2.load_state_dict(state)
    assert opt2.lr == opt.lr == 0.5 and (schedule2.step_size, schedule2.gamma) == (2, 0.5)
    schedule2.step()
    schedule.step()
    assert opt2.lr == opt.lr == 0.25  # and it goes on as the saved schedule would
    with pytest.raises(ValueError, match="state of a 'LinearLR' schedule"):
        schedule2.load_state_dict({**state, "type": "LinearLR"})
    with pytest.raises(ValueError, match="step_count must be a whole number"):
        schedule2.load_state_dict({**state, "step_count": 1.5})
    assert schedule2.step_count == 4


@pytest.mark.parametrize(("make", "bad", "message"), [
    (lambda o: StepLR(o, step_size=2, gamma=0.5), {"step_size": 0, "gamma": 0.5}, r"step_size must be a whole number"),
    (lambda o: StepLR(o, step_size=2, gamma=0.5), {"step_size": 2, "gamma": -1.0},
     r"gamma must be a finite number >= 0"),
    (lambda o: StepLR(o, step_size=2, gamma=0.5), {"step_size": 2}, r"hyperparameters is missing the key 'gamma'"),
    (lambda o: CosineAnnealingLR(o, T_max=10), {"T_max": 10, "eta_min": 0.0, "warmup": 3},
     r"hyperparameters has an unexpected key 'warmup'"),
    (lambda o: LinearLR(o), {"start_factor": 0.5, "end_factor": 1.0, "total_iters": 2.5},
     r"total_iters must be a whole"),
])
def test_schedule_load_refuses_bad_hyperparameters_and_changes_nothing(make, bad, message):
    opt = SGD([Value(0.0)], lr=1.0)
    schedule = make(opt)
    schedule.step()
    before = (vars(schedule).copy(), opt.lr)
    state = {**schedule.state_dict(), "hyperparameters": bad}
    with pytest.raises(ValueError, match=message):
        schedule.load_state_dict(state)
    assert (vars(schedule), opt.lr) == before


def test_a_schedule_state_saved_without_hyperparameters_still_loads():
    opt = SGD([Value(0.0)], lr=1.0)
    schedule = StepLR(opt, step_size=2, gamma=0.5)
    schedule.load_state_dict({"type": "StepLR", "base_lr": 1.0, "step_count": 4})  # as saved before they were
    assert opt.lr == 0.25 and (schedule.step_size, schedule.gamma) == (2, 0.5)


def test_schedule_errors():
    opt = SGD([Value(0.0)], lr=1.0)
    with pytest.raises(TypeError, match="needs an optimizer"):
        StepLR([Value(0.0)], step_size=1)
    with pytest.raises(ValueError, match="step_size must be a whole number >= 1"):
        StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match=r"the learning rate at step 0 must be a finite number >= 0, got -1"):
        LambdaLR(opt, lambda t: -1.0)


# -- gradient clipping ------------------------------------------------------------------------------


def test_clip_grad_norm():
    ps = [Value(0.0), Value(0.0)]
    ps[0].grad, ps[1].grad = 3.0, 4.0
    assert clip_grad_norm(ps, 10.0) == 5.0
    assert [p.grad for p in ps] == [3.0, 4.0]  # under the limit: untouched
    assert clip_grad_norm(ps, 1.0) == 5.0
    assert [p.grad for p in ps] == pytest.approx([0.6, 0.8], rel=1e-6)
    assert math.hypot(*(p.grad for p in ps)) <= 1.0
    ps[0].grad, ps[1].grad = 3e200, 4e200  # their squares overflow a float; the norm does not
    assert clip_grad_norm(ps, 1.0) == pytest.approx(5e200)
    assert [p.grad for p in ps] == pytest.approx([0.6, 0.8], rel=1e-6)
    with pytest.raises(ValueError, match=r"max_norm .* must be a finite number >= 0"):
        clip_grad_norm(ps, -1)


@pytest.mark.parametrize("opt_class", [Adam, AdamW, RMSProp])
def test_eps_zero_with_no_gradient_yet_is_a_clear_error_and_changes_nothing(opt_class):
    # sqrt(v_hat) + eps = 0 + 0 for a parameter whose gradient has been 0 so far (a dead ReLU): 0 / 0.
    ps = [Value(1.0, label="a"), Value(2.0, label="b")]
    ps[0].grad, ps[1].grad = 0.5, 0.0
    opt = opt_class(ps, lr=0.1, eps=0.0)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=r"step\(\) divides by zero at b: eps is 0 .* use an eps > 0"):
        opt.step()
    assert [p.data for p in ps] == [1.0, 2.0] and opt.state_dict() == before  # a's update was undone too


def test_clip_grad_norm_refuses_an_infinite_or_negative_max_norm():
    p = Value(0.0)
    p.grad = 3.0
    for bad in (math.inf, -1.0, "1"):
        with pytest.raises(ValueError, match=r"max_norm .* must be a finite number >= 0"):
            clip_grad_norm([p], bad)
    assert p.grad == 3.0


# -- optimizer state stays finite and usable ----------------------------------------------------


def test_the_issues_example_adam_with_a_gradient_of_1e200():
    # g^2 = 1e400 overflows exp_avg_sq to inf while the step itself (m_hat / sqrt(v_hat) = 0) is finite:
    # the parameter would then never move again, and the optimizer could not be saved.
    w = Value(1.0)
    opt = Adam([w], lr=0.1)
    before = opt.state_dict()
    (w * 1e200).backward()
    with pytest.raises(ValueError, match=r"Adam.step\(\) would make exp_avg_sq of parameter 0 inf \(its gradient "
                                         r"is 1e\+200\).*clip_grad_norm.*Nothing was changed"):
        opt.step()
    assert w.data == 1.0 and opt.state_dict() == before
    clip_grad_norm([w], 1.0)  # the fix the message suggests works
    opt.step()
    assert w.data == pytest.approx(0.9)


BUFFER_OVERFLOWS = [  # (optimizer, kwargs, the buffer that overflows while the parameter stays finite)
    (SGD, {"lr": 0.0, "momentum": 0.9}, "momentum_buffer"),  # v = 0.9 v + g: inf; lr 0 keeps p
    (RMSProp, {"lr": 0.01}, "square_avg"),
    (RMSProp, {"lr": 0.0, "momentum": 0.9}, "square_avg"),
    (Adam, {"lr": 0.01}, "exp_avg_sq"),
    (AdamW, {"lr": 0.01}, "exp_avg_sq"),
]


@pytest.mark.parametrize(("opt_class", "kwargs", "buffer"), BUFFER_OVERFLOWS)
def test_a_step_that_would_make_a_buffer_non_finite_changes_nothing_and_names_the_parameter(opt_class, kwargs, buffer):
    ps = [Value(1.0, label="a"), Value(2.0, label="b")]
    opt = opt_class(ps, **kwargs)
    ps[0].grad, ps[1].grad = 0.5, 1e200
    if opt_class is SGD:  # 1e200 alone fits a momentum buffer; two of 1e308 do not
        ps[1].grad = 1e308
        opt.step()
    before, data = opt.state_dict(), [p.data for p in ps]
    with pytest.raises(ValueError, match=rf"would make {buffer} of b (inf|-inf|nan) .*Nothing was changed"):
        opt.step()
    assert opt.state_dict() == before and [p.data for p in ps] == data
    assert all(math.isfinite(x) for buf in opt.state.values() for x in buf)


def test_a_failed_step_leaves_the_parameters_the_buffers_and_the_count():
    ps = [Value(1.0, label="a"), Value(2.0, label="b")]
    opt = Adam(ps, lr=0.1)
    ps[0].grad, ps[1].grad = 0.5, 0.25
    opt.step()
    data, before = [p.data for p in ps], opt.state_dict()
    ps[1].grad = 1e300
    with pytest.raises(ValueError, match="exp_avg_sq of b"):
        opt.step()
    assert [p.data for p in ps] == data and opt.state_dict() == before and opt.step_count == 1


@pytest.mark.parametrize(("opt_class", "buffer"),
                         [(RMSProp, "square_avg"), (Adam, "exp_avg_sq"), (AdamW, "exp_avg_sq")])
def test_load_state_dict_refuses_a_negative_second_moment(opt_class, buffer):
    # sqrt(v) of a negative average of g^2 would fail at the next step(), with math's own error.
    ps = [Value(1.0), Value(2.0)]
    opt = opt_class(ps)
    state = opt.state_dict()
    state["state"][buffer] = [0.5, -1e-12]
    before = opt.state_dict()
    with pytest.raises(ValueError, match=rf"state\[{buffer!r}\]\[1\] must be a finite number >= 0, got -1e-12"):
        opt.load_state_dict(state)
    assert opt.state_dict() == before
    state["state"][buffer] = [0.5, 0.0]  # zero is a valid second moment
    opt.load_state_dict(state)
    assert opt.state[buffer] == [0.5, 0.0]


@pytest.mark.parametrize("count", [MAX_STEP_COUNT + 1, 2**64, 10**400])
@pytest.mark.parametrize("opt_class", [SGD, RMSProp, Adam, AdamW])
def test_load_state_dict_refuses_a_count_too_large_for_a_float(opt_class, count):
    # Adam's bias correction computes beta ** t: an int beyond the float range raised OverflowError at step().
    opt = opt_class([Value(1.0)], lr=0.1)
    state, before = opt.state_dict(), opt.state_dict()
    state["step_count"] = count
    with pytest.raises(ValueError, match=rf"step_count must be a whole number from 0 to {MAX_STEP_COUNT}"):
        opt.load_state_dict(state)
    assert opt.state_dict() == before


@pytest.mark.parametrize("opt_class", [SGD, RMSProp, Adam, AdamW])
def test_every_optimizer_steps_at_the_largest_count_and_refuses_to_pass_it(opt_class):
    p = Value(1.0, label="w")
    opt = opt_class([p], lr=0.1)
    state = opt.state_dict()
    state["step_count"] = MAX_STEP_COUNT - 1
    opt.load_state_dict(state)
    p.grad = 0.5
    opt.step()  # the last count a float holds exactly: Adam's bias corrections still work
    assert opt.step_count == MAX_STEP_COUNT and math.isfinite(p.data) and p.data != 1.0
    data, before = p.data, opt.state_dict()
    with pytest.raises(ValueError, match="step_count is 9007199254740991, the most a float counts exactly"):
        opt.step()
    assert p.data == data and opt.state_dict() == before


# -- schedules: a failed step() or load_state_dict() changes nothing --------------------------------


def test_a_schedule_step_that_fails_does_not_advance_the_count():
    opt = SGD([Value(0.0)], lr=1.0)
    schedule = LambdaLR(opt, lambda t: 1.0 if t < 2 else -1.0)
    schedule.step()
    with pytest.raises(ValueError, match="the learning rate at step 2 must be a finite number >= 0, got -1"):
        schedule.step()
    assert schedule.step_count == 1 and opt.lr == 1.0
    growing = StepLR(SGD([Value(0.0)], lr=1.0), step_size=1, gamma=10.0)
    growing.load_state_dict({"type": "StepLR", "base_lr": 1.0, "step_count": 308})
    with pytest.raises(ValueError, match="the learning rate at step 309 overflows a float"):
        growing.step()  # 10.0 ** 309: OverflowError from Python's float power
    assert growing.step_count == 308 and growing.optimizer.lr == 1e308


def _failing_at_load(t):
    if t > 5:
        raise ZeroDivisionError("the user's schedule fails here")
    return 1.0


@pytest.mark.parametrize(("make", "state", "error", "message"), [
    (lambda o: StepLR(o, step_size=1, gamma=10.0), {"base_lr": 5.0, "step_count": 400}, ValueError,
     "the learning rate at step 400 overflows"),
    (lambda o: StepLR(o, step_size=1, gamma=2.0), {"base_lr": 1e308, "step_count": 2}, ValueError,
     "the learning rate at step 2 must be a finite number"),
    (lambda o: LambdaLR(o, _failing_at_load), {"base_lr": 5.0, "step_count": 6}, ZeroDivisionError,
     "the user's schedule fails here"),
    (lambda o: CosineAnnealingLR(o, T_max=10), {"base_lr": 5.0, "step_count": 10**400}, ValueError,
     "step_count must be a whole number from 0 to"),
    (lambda o: LinearLR(o), {"base_lr": -1.0, "step_count": 1}, ValueError, "base_lr must be a finite number >= 0"),
])
def test_a_failed_schedule_load_changes_nothing(make, state, error, message):
    opt = SGD([Value(0.0)], lr=0.5)
    schedule = make(opt)
    schedule.step()
    before = (schedule.base_lr, schedule.step_count, opt.lr)
    with pytest.raises(error, match=message):
        schedule.load_state_dict({"type": type(schedule).__name__, **state})
    assert (schedule.base_lr, schedule.step_count, opt.lr) == before


# -- gradient clipping: never a NaN ---------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_clip_grad_norm_refuses_a_non_finite_gradient_and_changes_nothing(bad):
    ps = [Value(0.0, label="a"), Value(0.0, label="b")]
    ps[0].grad, ps[1].grad = 3.0, bad
    with pytest.raises(ValueError, match=rf"the gradient of b is {bad}; no scale makes it finite"):
        clip_grad_norm(ps, 1.0)
    assert ps[0].grad == 3.0 and (ps[1].grad == bad or math.isnan(bad))


def test_clip_grad_norm_clips_exactly_when_the_norm_itself_overflows():
    ps = [Value(0.0), Value(0.0), Value(0.0)]
    for p, g in zip(ps, (1.7e308, -1.7e308, 0.0)):
        p.grad = g
    assert clip_grad_norm(ps, 2.0) == math.inf  # sqrt(2) 1.7e308 is beyond the float range
    assert [p.grad for p in ps] == pytest.approx([math.sqrt(2), -math.sqrt(2), 0.0])
    assert math.hypot(*(p.grad for p in ps)) <= 2.0 * (1 + 1e-12)


def test_clip_grad_norm_refuses_what_is_not_a_parameter():
    with pytest.raises(TypeError, match=r"takes Values \(model.parameters\(\)\), got 3.0 at 1"):
        clip_grad_norm([Value(1.0), 3.0], 1.0)
