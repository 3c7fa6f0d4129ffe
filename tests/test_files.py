"""Every file microgradx writes is replaced whole or not at all, and keeps its identity."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from microgradx import Value
from microgradx._files import write_atomic
from microgradx.animate import animate_backward
from microgradx.nn import MLP
from microgradx.serialization import load, save
from microgradx.viz import save as save_graph

posix_only = pytest.mark.skipif(os.name != "posix", reason="permission bits and symbolic links are POSIX")


def _writers(tmp_path):
    """Each way microgradx writes a file, as (name, path, write)."""
    y = (Value(2.0, label="x") * 3).tanh()
    return [
        ("save", tmp_path / "model.json", lambda p: save(MLP(2, [2, 1], seed=0), p)),
        ("viz.save dot", tmp_path / "graph.dot", lambda p: save_graph(y, p)),
        ("viz.save svg", tmp_path / "graph.svg", lambda p: save_graph(y, p)),
        ("animate_backward", tmp_path / "page.html", lambda p: animate_backward(y, p)),
        ("write_atomic", tmp_path / "plain.txt", lambda p: write_atomic(p, "new text")),
    ]


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604])
def test_replacing_a_file_keeps_its_permission_bits(tmp_path, mode):
    for name, path, write in _writers(tmp_path):
        path.write_text("old")
        path.chmod(mode)
        write(path)
        assert path.read_text() != "old", name
        assert stat.S_IMODE(path.stat().st_mode) == mode, name


@posix_only
def test_a_symbolic_link_keeps_pointing_at_the_file_it_updates(tmp_path):
    (tmp_path / "real").mkdir()
    for name, path, write in _writers(tmp_path):
        real = tmp_path / "real" / path.name
        real.write_text("old")
        path.symlink_to(real)
        write(path)
        assert path.is_symlink(), name
        assert os.readlink(path) == str(real), name
        assert real.read_text() != "old", name


def test_an_encoding_error_leaves_the_old_file(tmp_path):
    path = tmp_path / "page.txt"
    path.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, "a lone surrogate \ud800")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.txt"]


def test_a_folder_in_the_way_is_named(tmp_path):
    (tmp_path / "out.svg").mkdir()
    with pytest.raises(IsADirectoryError, match=r"'.*out\.svg' is a folder"):
        write_atomic(tmp_path / "out.svg", b"<svg/>")


# A full disk, for real: the process may not write more than a few bytes (RLIMIT_FSIZE), so the
# write fails wherever it happens to fail, and the old file must come through whole.
_FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    from microgradx import Value
    from microgradx.animate import animate_backward
    from microgradx.nn import MLP
    from microgradx.serialization import save
    from microgradx.viz import save as save_graph
    which, path = sys.argv[1], sys.argv[2]
    y = (Value(2.0, label="x") * 3).tanh()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
    try:
        if which == "save":
            save(MLP(2, [4, 1], seed=0), path)
        elif which == "graph":
            save_graph(y, path)
        else:
            animate_backward(y, path)
    except OSError as error:
        print("failed:", error.errno)
        sys.exit(0)
    sys.exit("the write did not fail")
""")


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE and SIGXFSZ as on Linux")
@pytest.mark.parametrize(("which", "name"), [("save", "m.json"), ("graph", "g.svg"), ("animation", "a.html")])
def test_a_full_disk_leaves_the_old_file_whole_and_no_debris(tmp_path, which, name):
    path = tmp_path / name
    path.write_text("the old contents, which must survive")
    result = subprocess.run([sys.executable, "-c", _FULL_DISK, which, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("failed:")
    assert path.read_text() == "the old contents, which must survive"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_a_saved_model_still_loads_after_a_failed_save_over_it(tmp_path):
    path = tmp_path / "m.json"
    model = MLP(2, [2, 1], seed=0)
    save(model, path)
    with pytest.raises(ValueError):
        save({"w": float("nan")}, path)
    assert load(path) == model.state_dict()


# Every file the demo and the command line write, watched through Python's audit hooks (which see
# every open() and rename, whoever calls them: our code, matplotlib, graphviz): no final file is
# ever opened for writing, each is renamed into place from a temporary file in its folder.
_WATCH = textwrap.dedent("""
    import os, sys
    out = os.path.realpath(sys.argv[1])
    def watch(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            path, mode, flags = args
            writes = any(c in (mode or "") for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR)
            if writes and os.path.dirname(os.path.realpath(path)) == out:
                print("opened", os.path.basename(path))
        elif event == "os.rename" and os.path.dirname(os.path.realpath(args[1])) == out:
            print("renamed", os.path.basename(args[0]), os.path.basename(args[1]))
    sys.addaudithook(watch)
    from microgradx.cli import main
    from microgradx.demo import run_demo
    run_demo(out, steps=2, progress=False)
    for name in ("draw.svg", "draw.png", "draw.pdf", "draw.dot", "draw.html"):
        main(["draw", "tanh(w*x + b)", "--set", "x=1", "w=2", "b=0.5", "-o", os.path.join(out, name)])
""")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dot") is None, reason="the demo's drawings need Graphviz's dot")
def test_every_file_the_demo_and_the_cli_write_is_moved_into_place_whole(tmp_path):
    pytest.importorskip("matplotlib", reason="the demo writes its PNG plots only with the plot extra")
    result = subprocess.run([sys.executable, "-c", _WATCH, str(tmp_path)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    events = [line.split() for line in result.stdout.splitlines() if line.startswith(("opened", "renamed"))]
    written = sorted(p.name for p in tmp_path.iterdir())
    assert {"model.json", "history.csv", "decision_boundary.png", "training.png", "batch.svg", "grad_flow.png",
            "neuron.svg", "mlp.svg", "backprop.html", "draw.svg", "draw.png", "draw.pdf", "draw.dot",
            "draw.html"} == set(written)
    opened = [e[1] for e in events if e[0] == "opened"]
    assert not set(opened) & set(written), "a file was written in place, not moved there whole"
    renamed = {e[2]: e[1] for e in events if e[0] == "renamed"}
    assert sorted(renamed) == written
    for final, temporary in renamed.items():
        assert temporary.startswith(f".{final}.") and temporary.endswith(".tmp") and temporary in opened


@pytest.mark.parametrize(("number", "kind", "words"), [
    (errno.EACCES, PermissionError, ["the folder", "does not accept new files", "choose another folder"]),
    (errno.EROFS, OSError, ["is on a read-only file system", "choose another folder"]),
    (errno.ENOSPC, OSError, ["the disk is full", "free some space"]),
    (errno.ENOENT, FileNotFoundError, ["does not accept new files", "choose another folder"]),
    (errno.EIO, OSError, ["the system refused", "check the path"]),
])
@pytest.mark.parametrize("step", ["open", "replace"])
def test_a_refused_write_names_the_path_given_and_the_fix_and_keeps_class_and_errno(tmp_path, monkeypatch, number,
                                                                                    kind, words, step):
    import microgradx._files as files

    def refuse(path, *args, **kwargs):
        raise OSError(number, os.strerror(number), str(path))  # as the system says it: about the temporary file

    monkeypatch.setattr(files.os, step, refuse)
    path = tmp_path / "g.svg"
    with pytest.raises(OSError) as info:
        write_atomic(path, "text")
    error = info.value
    assert type(error) is kind and error.errno == number
    assert str(error).startswith(f"cannot write {str(path)!r}: ")
    assert os.strerror(number) in str(error) and ".tmp" not in str(error) and "Errno" not in str(error)
    for word in words:
        assert word in str(error), (word, str(error))
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind
