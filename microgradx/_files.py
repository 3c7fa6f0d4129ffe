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
import errno
import os
import secrets
import stat
from pathlib import Path

__all__ = ["with_errno", "write_atomic"]


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Replace the file at ``path`` with ``data`` (text is encoded with ``encoding``), all or nothing.

    Returns ``path`` as a :class:`~pathlib.Path` (the link, when ``path`` is a symbolic link).
    Raises ``FileNotFoundError`` when the folder does not exist, ``IsADirectoryError`` when the path
    is a folder, ``UnicodeEncodeError`` when the text cannot be encoded (nothing is written then),
    and the ``OSError`` the system reports (a full disk, no permission) as the same class with the
    same ``errno``, its message naming ``path`` (not the temporary file) and what to do. In every
    case an existing file is left exactly as it was.
    """
    link = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else bytes(data)  # may raise: nothing touched yet
    target = Path(os.path.realpath(link))  # for a symbolic link, the file it points to
    if not target.parent.is_dir():
        raise with_errno(FileNotFoundError(f"cannot write {str(link)!r}: the folder {str(link.parent)!r} does not "
                                       "exist; create it first"), errno.ENOENT)
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    except OSError as error:  # a folder we may not look into
        raise _cannot_write(link, error) from None
    if old is not None and not stat.S_ISREG(old.st_mode):
        if stat.S_ISDIR(old.st_mode):
            raise with_errno(IsADirectoryError(f"{str(link)!r} is a folder; give the path of a file to write"),
                         errno.EISDIR)
        raise with_errno(OSError(f"{str(link)!r} is not a regular file; give the path of a file to write"),
                     errno.EINVAL)
    try:
        _replace(target, payload, old)
    except OSError as error:
        raise _cannot_write(link, error) from None
    return link


def _replace(target: Path, payload: bytes, old: os.stat_result | None) -> None:
    """Write ``payload`` to a new temporary file beside ``target``, then rename it over ``target``."""
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


# What a write's error means for the user, and what to do, by errno; the system's words go between.
_NO_ROOM = ("the disk is full or over its quota", "free some space or write to another disk")
_NO_FILES = ("the folder {folder} does not accept new files", "choose another folder")
_PROBLEMS = {
    errno.ENOSPC: _NO_ROOM, errno.EDQUOT: _NO_ROOM,
    errno.EFBIG: ("the file is larger than this system allows", "write to another disk"),
    errno.EACCES: _NO_FILES, errno.EPERM: _NO_FILES, errno.ENOENT: _NO_FILES,
    errno.EROFS: ("the folder {folder} is on a read-only file system", "choose another folder"),
    errno.ENAMETOOLONG: ("the name is too long for this file system", "choose a shorter name"),
}


def _cannot_write(link: Path, error: OSError) -> OSError:
    """``error`` told about the user's path: the same class and errno, with a message that names
    ``link`` (the temporary file's name would mean nothing to them) and what to do."""
    problem, fix = _PROBLEMS.get(error.errno or 0, ("the system refused", "check the path and its folder"))
    problem = problem.format(folder=repr(str(link.parent)))
    reason = error.strerror or str(error)
    return with_errno(type(error)(f"cannot write {str(link)!r}: {problem} ({reason}); {fix}"), error.errno)


def with_errno(error: OSError, number: int | None) -> OSError:
    """``error`` with its ``errno`` set, its message left whole: given to the constructor, the number
    would turn the message into ``[Errno 2] ...`` (as would ``strerror`` or ``filename``)."""
    error.errno = number  # type: ignore[assignment]
    return error


def _keep_identity(tmp: Path, old: os.stat_result) -> None:
    """Give the new file the old one's permission bits, and its owner where the process may."""
    with contextlib.suppress(PermissionError, AttributeError):  # chown: only root may give files away
        if (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
            os.chown(tmp, old.st_uid, old.st_gid)
    os.chmod(tmp, stat.S_IMODE(old.st_mode))
