#!/usr/bin/env python3
"""Set up microgradx on a fresh machine and run its main job or its tests.

    python3 scripts/dev.py demo    # train the demo MLP, write its graph and plots to out/demo/
    python3 scripts/dev.py test    # lint, type check and the whole test suite (what CI runs)
    python3 scripts/dev.py lab     # open the notebooks in JupyterLab (installs the notebook extra)

Both create a virtual environment in .venv (reused while pyproject.toml is unchanged), install the
package into it, and make sure Graphviz's ``dot`` program is there: installed with apt-get where
this runs as root on Debian/Ubuntu, otherwise the script stops and says what to run. ``test`` also
installs Debian's ``chromium`` for the browser test where it can (the test is skipped, with the
reason, where it cannot). Extra arguments after ``test`` go to pytest, after ``lab`` to JupyterLab.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("MICROGRADX_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
EXTRAS = {"demo": "plot", "test": "test,plot", "lab": "notebook"}


def say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def stop(message: str) -> None:
    print(f"[dev] cannot continue: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def run(cmd: list[str], **kwargs: object) -> None:
    say("$ " + " ".join(str(c) for c in cmd))
    result = subprocess.run(cmd, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise SystemExit(result.returncode)


def ensure_python() -> None:
    if sys.version_info < (3, 10):
        stop(f"microgradx needs Python 3.10 or newer; this is {sys.version.split()[0]}. "
             "Run this script with a newer python3 (e.g. python3.11 scripts/dev.py ...).")


def ensure_venv(extras: str) -> None:
    if not PYTHON.exists():
        say(f"creating a virtual environment in {VENV}")
        result = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
        if (result.returncode != 0 or not PYTHON.exists()) and can_apt():
            # Debian ships venv separately; python3-venv matches the default python3
            shutil.rmtree(VENV, ignore_errors=True)
            minor = f"python3.{sys.version_info.minor}-venv"
            if apt_install(minor) or apt_install("python3-venv"):
                result = subprocess.run([sys.executable, "-m", "venv", str(VENV)])
        if result.returncode != 0 or not PYTHON.exists():
            stop("could not create a virtual environment. On Debian/Ubuntu install the venv module "
                 "(apt-get install python3-venv), then run this command again.")
    # Install again only when pyproject.toml changed or an extra is wanted that is not there yet.
    stamp = VENV / ".microgradx-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    wanted = set(extras.split(","))
    lines = stamp.read_text().split() if stamp.exists() else []
    installed = set(lines[1:]) if lines[:1] == [digest] else set()
    if wanted <= installed:
        return
    wanted |= installed
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[{','.join(sorted(wanted))}]"])
    stamp.write_text(" ".join([digest, *sorted(wanted)]))


def can_apt() -> bool:
    return os.name == "posix" and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None


_apt_updated = False


def apt_install(package: str) -> bool:
    global _apt_updated
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _apt_updated:
        say("$ apt-get update")
        if subprocess.run(["apt-get", "update", "-qq"], env=env).returncode != 0:
            return False
        _apt_updated = True
    say(f"$ apt-get install -y {package}")
    return subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env,
                          stdout=subprocess.DEVNULL).returncode == 0


def ensure_dot() -> None:
    if shutil.which("dot"):
        return
    if can_apt() and apt_install("graphviz") and shutil.which("dot"):
        return
    stop("Graphviz's `dot` program is missing; microgradx needs it to render graphs. Install it, then "
         "run this command again:\n  Debian/Ubuntu: sudo apt-get install graphviz\n  Fedora: sudo dnf install "
         "graphviz\n  macOS: brew install graphviz\n  Windows: winget install graphviz (and add it to PATH)")


def ensure_chromium() -> None:
    """The browser test needs a Chromium; it is skipped with its reason where none can be had."""
    if shutil.which("chromium") or shutil.which("chromium-browser") or os.environ.get("MICROGRADX_CHROMIUM"):
        return
    if can_apt() and apt_install("chromium"):
        return
    say("no Chromium here and none could be installed: the browser test will be skipped "
        "(install Debian's `chromium` package, or set MICROGRADX_CHROMIUM to a Chromium binary)")


USAGE = "usage: python3 scripts/dev.py demo | test [pytest arguments] | lab [JupyterLab arguments]"


def unknown_task(given: str | None) -> str:
    """The one line for a missing or unknown task, with the closest task's name when one is close."""
    if given is None:
        return f"no task given; {USAGE}"
    close = difflib.get_close_matches(given, EXTRAS, n=1)
    guess = f"did you mean {close[0]}? " if close else ""
    return f"unknown task {given!r}; {guess}{USAGE} (or --help)"


def main(argv: list[str]) -> None:
    if argv[:1] in (["-h"], ["--help"]):  # asked for: the usage and what each task does, exit 0
        try:
            print(f"{USAGE}\n{__doc__}", flush=True)
        except BrokenPipeError:  # read by `| head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    ensure_python()
    if not argv or argv[0] not in EXTRAS:
        stop(unknown_task(argv[0] if argv else None))
    task, rest = argv[0], argv[1:]
    ensure_venv(EXTRAS[task])
    ensure_dot()
    os.chdir(ROOT)
    if task == "demo":
        run([str(PYTHON), "-m", "microgradx", "demo", "--out", "out/demo", *rest])
        return
    if task == "lab":
        # JupyterLab refuses to start as root unless told; on a container or CI box that is the norm.
        as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        run([str(BIN / "jupyter"), "lab", "notebooks/", *as_root, *rest])
        return
    ensure_chromium()
    run([str(BIN / "ruff"), "check", "."])
    run([str(PYTHON), "-m", "mypy"])
    run([str(PYTHON), "-m", "pytest", *rest])


if __name__ == "__main__":
    main(sys.argv[1:])
