"""microgradx.serialization: save/load round trips (models, optimizers, schedules) and every bad-file case, each
with a clear error and the model left untouched."""

import json
import math
import os
import stat

import pytest

from microgradx.engine import Value
from microgradx.nn import MLP
from microgradx.optim import SGD, Adam, StepLR
from microgradx.serialization import VERSION, SaveFileError, load, save


def trained(seed=0, steps=3):
    model = MLP(2, [4, 1], "tanh", seed=seed)
    opt = Adam(model.parameters(), lr=0.05)
    for k in range(steps):
        opt.zero_grad()
        ((model([0.3, -0.2 * k]) - 1) ** 2).backward()
        opt.step()
    return model, opt


def test_model_round_trip_is_exact(tmp_path):
    model, _ = trained()
    save(model, tmp_path / "model.json")
    copy = MLP(2, [4, 1], "tanh", seed=1)
    copy.load_state_dict(load(tmp_path / "model.json"))
    assert copy.state_dict() == model.state_dict()  # every float bit for bit
    assert copy([0.1, 0.2]).data == model([0.1, 0.2]).data
    save(model.state_dict(), str(tmp_path / "state.json"))  # a state dict and a str path work too
    assert load(str(tmp_path / "state.json")) == model.state_dict()


def test_optimizer_and_schedule_round_trip(tmp_path):
    _, opt = trained()
    schedule = StepLR(opt, step_size=1, gamma=0.5)
    schedule.step()
    save(opt, tmp_path / "opt.json")
    save(schedule, tmp_path / "schedule.json")
    _, opt2 = trained(seed=1, steps=0)
    opt2.load_state_dict(load(tmp_path / "opt.json"))
    assert opt2.state_dict() == opt.state_dict()
    assert opt2.betas == (0.9, 0.999)  # JSON has no tuples: restored as one
    schedule2 = StepLR(opt2, step_size=1, gamma=0.5)
    schedule2.load_state_dict(load(tmp_path / "schedule.json"))
    assert opt2.lr == opt.lr == 0.025


def test_the_file_is_readable_json(tmp_path):
    save(MLP(1, [1], seed=0), tmp_path / "m.json")
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["format"] == "microgradx" and data["version"] == VERSION
    assert list(data["state"]) == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.b"]


# -- bad files -------------------------------------------------------------------------------------

BAD_FILES = [
    (b"", "it is empty"),
    (b"  \n", "it is empty"),
    (b"\xff\xfe\x00garbage", "it is not text"),
    (b'{"format": "microgradx", "version": 1, "state": {"a": 1.0', "not valid JSON \\(line 1, column"),
    (b"not json at all", "not valid JSON"),
    (b"[1, 2, 3]", 'no "format": "microgradx" header'),
    (b'{"a": 1.0}', 'no "format": "microgradx" header'),
    (b'{"format": "pytorch", "version": 1, "state": {}}', 'no "format": "microgradx" header'),
    (b'{"format": "microgradx", "version": 99, "state": {}}', "format version 99 by a newer microgradx"),
    (b'{"format": "microgradx", "version": "1", "state": {}}', "format version is '1'"),
    (b'{"format": "microgradx", "version": 1}', 'no "state" dict'),
    (b'{"format": "microgradx", "version": 1, "state": [1.0]}', 'no "state" dict'),
    (b'{"format": "microgradx", "version": 1, "state": {"a": NaN}}', "it contains NaN"),
    (b'{"format": "microgradx", "version": 1, "state": {"a": Infinity}}', "it contains Infinity"),
    (b'{"format": "microgradx", "version": 1, "state": {"a": 1.0, "a": 2.0}}', "the key 'a' appears twice"),
]


@pytest.mark.parametrize(("content", "message"), BAD_FILES)
def test_bad_files_raise_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(SaveFileError, match=rf"cannot load '.*bad\.json': .*{message}"):
        load(path)


def test_a_missing_file():
    with pytest.raises(FileNotFoundError, match=r"nowhere\.json"):
        load("/nonexistent/nowhere.json")


def test_a_truncated_save_file_is_caught(tmp_path):
    model, _ = trained()
    save(model, tmp_path / "m.json")
    text = (tmp_path / "m.json").read_bytes()
    (tmp_path / "m.json").write_bytes(text[: len(text) // 2])
    with pytest.raises(SaveFileError, match="not valid JSON"):
        load(tmp_path / "m.json")


# -- files that do not fit the object: named key, nothing changed -------------------------------


def test_state_of_another_architecture_names_the_key_and_changes_nothing(tmp_path):
    save(MLP(2, [8, 1], seed=0), tmp_path / "big.json")
    model = MLP(2, [4, 1], seed=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"unexpected key 'layers\.0\.neurons\.4\.w\.0' \(and \d+ more\)"):
        model.load_state_dict(load(tmp_path / "big.json"))
    assert model.state_dict() == before
    save(MLP(3, [4, 1], seed=0), tmp_path / "wide.json")
    with pytest.raises(ValueError, match=r"unexpected key 'layers\.0\.neurons\.0\.w\.2'"):
        model.load_state_dict(load(tmp_path / "wide.json"))
    assert model.state_dict() == before


def test_a_wrong_value_names_the_key_and_changes_nothing(tmp_path):
    model = MLP(2, [4, 1], seed=0)
    before = model.state_dict()
    state = {k: v + 1.0 for k, v in before.items()}
    state["layers.1.neurons.0.w.3"] = [1.0, 2.0]
    (tmp_path / "m.json").write_text(json.dumps({"format": "microgradx", "version": 1, "state": state}))
    with pytest.raises(ValueError, match=r"the value of 'layers\.1\.neurons\.0\.w\.3' must be a finite number"):
        model.load_state_dict(load(tmp_path / "m.json"))
    assert model.state_dict() == before


def test_wrong_kind_of_state(tmp_path):
    model, opt = trained()
    save(opt, tmp_path / "opt.json")
    save(model, tmp_path / "model.json")
    before = model.state_dict()
    with pytest.raises(ValueError, match="state of a 'Adam' optimizer, not of a model"):
        model.load_state_dict(load(tmp_path / "opt.json"))
    assert model.state_dict() == before
    with pytest.raises(ValueError, match="state dict is missing the key 'type'"):
        opt.load_state_dict(load(tmp_path / "model.json"))
    sgd = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="state of a 'Adam' optimizer, not of SGD"):
        sgd.load_state_dict(load(tmp_path / "opt.json"))
    _, small_opt = trained(steps=0)
    small_opt.params.pop()
    with pytest.raises(ValueError, match=r"needs one number per parameter \(16\), got 17 values"):
        Adam(small_opt.params).load_state_dict(load(tmp_path / "opt.json"))


# -- saving --------------------------------------------------------------------------------------


def test_a_failed_save_leaves_the_old_file_and_no_debris(tmp_path):
    path = tmp_path / "model.json"
    model = MLP(1, [1], seed=0)
    save(model, path)
    good = path.read_bytes()
    with pytest.raises(ValueError, match="cannot be written as JSON"):
        save({"w": math.nan}, path)
    with pytest.raises(ValueError, match="cannot be written as JSON"):
        save({"w": Value(1.0)}, path)
    with pytest.raises(TypeError, match="takes a model, an optimizer, a schedule or a state dict"):
        save([1.0, 2.0], path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_a_saved_file_has_the_permissions_of_any_new_file(tmp_path):
    old = os.umask(0o027)
    try:
        save(MLP(1, [1], seed=0), tmp_path / "m.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o640  # 0o666 less the umask


def test_saving_into_a_missing_folder_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"the folder '.*nowhere' does not exist; create it first"):
        save(MLP(1, [1], seed=0), tmp_path / "nowhere" / "m.json")
    assert list(tmp_path.iterdir()) == []
