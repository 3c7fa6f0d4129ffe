"""microgradx.serialization: save/load round trips (models, optimizers, schedules) and every bad-file case, each
with a clear error and the model left untouched."""

import errno
import json
import math
import os
import stat

import pytest

from microgradx.engine import Value
from microgradx.nn import MLP
from microgradx.optim import SGD, Adam, StepLR
from microgradx.serialization import MAX_BYTES, MAX_DEPTH, VERSION, SaveFileError, load, save


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


def test_a_missing_file_is_named_with_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^cannot load '.*nowhere\.json': there is no such file; "
                                                 r"check the path$") as caught:
        load(tmp_path / "nowhere.json")
    assert caught.value.errno == errno.ENOENT and caught.value.__cause__ is None


def test_an_unreadable_file_is_named(tmp_path, monkeypatch):
    path = tmp_path / "model.json"
    save(MLP(1, [1], seed=0), path)

    def refused(*args, **kwargs):  # what open() meets without read permission (root, as in CI, reads anything)
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", refused)
    with pytest.raises(PermissionError, match=r"cannot load '.*model\.json': you have no permission to read it"):
        load(path)


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


# -- what load() refuses to read: not a file, too large, too deep --------------------------------

HEADER = b'{"format": "microgradx", "version": 1, "state": '


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(SaveFileError, match=r"cannot load '.*': it is a folder, not a file"):
        load(tmp_path)


# A named pipe with no writer: open() for reading would wait for one forever. Run in a child
# process with a timeout, so that a regression fails the test instead of hanging the suite.
_LOAD_FIFO = """
import sys
from microgradx.serialization import SaveFileError, load
try:
    load(sys.argv[1])
except SaveFileError as error:
    print(error)
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    import subprocess
    import sys

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    result = subprocess.run([sys.executable, "-c", _LOAD_FIFO, str(fifo)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "it is a named pipe (FIFO), not a file" in result.stdout


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_device_is_refused():
    with pytest.raises(SaveFileError, match="it is a device, not a file"):
        load("/dev/null")  # a device may be endless (/dev/zero) or wait for input (a terminal)


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:  # a sparse file: no disk space taken
        f.truncate(MAX_BYTES + 1)
    with pytest.raises(SaveFileError, match=r"it is 67,108,865 bytes, more than load\(\) reads \(67,108,864 bytes\)"):
        load(path)


def test_max_bytes_sets_the_limit(tmp_path):
    model = MLP(2, [4, 1], seed=0)
    save(model, tmp_path / "m.json")
    size = (tmp_path / "m.json").stat().st_size
    assert load(tmp_path / "m.json", max_bytes=size) == model.state_dict()  # the limit itself is allowed
    with pytest.raises(SaveFileError, match=rf"it is {size:,} bytes, more than load\(\) reads \({size - 1:,} bytes\); "
                                            "if it really is a save file, pass a larger max_bytes="):
        load(tmp_path / "m.json", max_bytes=size - 1)
    for bad in (0, -1, 1.5, True, "64"):
        with pytest.raises(ValueError, match=r"load\(max_bytes\) must be a whole number >= 1"):
            load(tmp_path / "m.json", max_bytes=bad)


@pytest.mark.skipif(not os.path.exists("/proc/self/environ"), reason="needs Linux's /proc")
def test_a_file_longer_than_its_reported_size_is_read_only_up_to_the_limit():
    # Files in /proc report a size of 0; their length shows only while reading.
    assert os.stat("/proc/self/environ").st_size == 0
    with pytest.raises(SaveFileError, match=r"it is over 1 bytes, more than load\(\) reads"):
        load("/proc/self/environ", max_bytes=1)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
@pytest.mark.parametrize("bracket", ["[", '{"a": '])
def test_deep_nesting_is_refused_before_parsing(tmp_path, depth, bracket):
    path = tmp_path / "deep.json"
    path.write_bytes(HEADER + bracket.encode() * depth)  # unterminated too: the depth is found first
    with pytest.raises(SaveFileError, match=rf"it is nested {depth + 1} deep; a save file is at most {MAX_DEPTH} deep"):
        load(path)


def test_nesting_up_to_the_limit_loads_and_brackets_in_strings_do_not_count(tmp_path):
    path = tmp_path / "ok.json"
    inner = "[" * (MAX_DEPTH - 2) + "1.0" + "]" * (MAX_DEPTH - 2)
    path.write_text(HEADER.decode() + '{"a": ' + inner + "}}")
    expected: object = 1.0
    for _ in range(MAX_DEPTH - 2):
        expected = [expected]
    assert load(path)["a"] == expected
    key = '[{\\"[' * 5000
    path.write_text(HEADER.decode() + '{"' + key + '": 1.0}}')
    assert load(path) == {'[{"[' * 5000: 1.0}


def test_save_refuses_what_load_would_refuse_as_too_deep(tmp_path):
    state = {"a": 1.0}
    for _ in range(MAX_DEPTH):
        state = {"a": state}
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH} deep"):
        save(state, tmp_path / "deep.json")
    deeper: list = []
    for _ in range(100_000):  # beyond the recursion limit of json.dumps itself
        deeper = [deeper]
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH} deep"):
        save({"a": deeper}, tmp_path / "deep.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("number", [10**400, -(10**309), 2**1100])
def test_save_refuses_whole_numbers_load_would_refuse_and_keeps_the_old_file(tmp_path, number):
    # JSON writes any int; load() refuses one beyond the largest float: saving it would lose the save
    path = tmp_path / "model.json"
    save({"w": [1.0]}, path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"^save\(\): load\(\) would refuse this state: it contains a whole "
                                         r"number with \d+ digits, too large for a float$"):
        save({"w": [1.0], "count": number}, path)
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]
    save({"count": 10**300}, path)  # within a float's range: written and read back exactly
    assert load(path) == {"count": 10**300}


@pytest.mark.parametrize(("number", "message"), [
    (b"1e999", "the number 1e999, too large for a float"),
    (b"-1e400", "the number -1e400, too large for a float"),
    (b"1" * 310, "a whole number with 310 digits, too large for a float"),
    (b"-" + b"9" * 5000, "a whole number with 5,000 digits, too large for a float"),
    # a long literal is shown by its first 40 characters
    (b"1." + b"0" * 60 + b"e999", "the number 1." + "0" * 38 + ", too large for a float"),
])
def test_numbers_too_large_for_a_float_are_refused(tmp_path, number, message):
    path = tmp_path / "big.json"
    path.write_bytes(HEADER + b'{"w": ' + number + b"}}")
    with pytest.raises(SaveFileError, match=message):
        load(path)


def test_load_reads_exactly_max_depth_and_refuses_one_more(tmp_path):
    # the header's dict and "state" are two levels; the rest is the state's own nesting, beside a few
    # shallow lists (more brackets in all than MAX_DEPTH, so the depth itself is what is measured)
    def nested(levels: int) -> bytes:
        return (HEADER + b'{"w": ' + b"[" * (levels - 2) + b"1.0" + b"]" * (levels - 2)
                + b', "pad": [[0.0], [0.0], [0.0]]}}')

    path = tmp_path / "deep.json"
    path.write_bytes(nested(MAX_DEPTH))
    assert load(path)["w"] is not None
    path.write_bytes(nested(MAX_DEPTH + 1))
    with pytest.raises(SaveFileError, match=rf"it is nested {MAX_DEPTH + 1} deep; a save file is at most 100 deep"):
        load(path)
