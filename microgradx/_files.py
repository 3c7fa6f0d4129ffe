"""Writing files so that they are never half-written: every file microgradx writes goes through here.

The bytes go to a temporary file in the destination's own folder, are flushed to disk, and the
temporary file is then renamed over the destination. A rename within one folder is atomic, so a
reader (or a crash, a full disk, Ctrl-C) sees either the old file, whole, or the new one, whole.
Text is encoded before any file is touched, so an encoding error changes nothing.

The destination keeps its identity: an existing file keeps its permission bits (and, where the
process may set them, its owner and group), and a path that is a symbolic link updates the file the
link points to, leaving the link itself in place. A new file gets the usual mode, 0o666 less the
umask, as ``open(path, "w")`` would give it.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
>>> write_atomic(path, "hello\\n").read_text()
'hello\\n'
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, encoding: str = "utf-8",
                 who: str = "write") -> Path:
    """Replace the file at ``path`` with ``data`` (text is encoded with ``encoding``), all or nothing.

    Returns ``path`` as a :class:`~pathlib.Path` (the link, when ``path`` is a symbolic link).
    Raises ``FileNotFoundError`` when the folder does not exist, ``IsADirectoryError`` when the path
    is a folder, ``UnicodeEncodeError`` when the text cannot be encoded (nothing is written then),
    and ``OSError`` as the system reports it (a full disk, no permission); in every case an existing
    file is left exactly as it was. ``who`` names the caller in messages (``"save()"``).
    """
    link = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else bytes(data)  # may raise: nothing touched yet
    target = Path(os.path.realpath(link))  # for a symbolic link, the file it points to
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{who}: the folder {str(link.parent)!r} does not exist; create it first")
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        kind = "a folder" if stat.S_ISDIR(old.st_mode) else "not a regular file"
        error = IsADirectoryError if stat.S_ISDIR(old.st_mode) else OSError
        raise error(f"{who}: {str(link)!r} is {kind}; give the path of a file to write")
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never an existing file; mode 0o666 less the umask, like any new file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename makes it the file
        if old is not None:
            _keep_identity(tmp, old)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return link


def _keep_identity(tmp: Path, old: os.stat_result) -> None:
    """Give the new file the old one's permission bits, and its owner where the process may."""
    with contextlib.suppress(PermissionError, AttributeError):  # chown: only root may give files away
        if (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
            os.chown(tmp, old.st_uid, old.st_gid)
    os.chmod(tmp, stat.S_IMODE(old.st_mode))
