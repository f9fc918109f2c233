"""Writing files so that a crash never leaves a half-written one behind, and reading files that
may be hostile with bounds: only regular files, JSON of bounded size and depth."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import zipfile
from typing import IO, Any, Callable, Iterator, Optional

import numpy as np

try:                                            # POSIX; elsewhere saves are not locked
    import fcntl
except ImportError:                             # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: The largest JSON file read back (history, optimizer groups, config are far smaller).
MAX_JSON_BYTES = 64 * 2 ** 20
_CHUNK = 2 ** 20


def atomic_write(path: str, write: Callable[[IO[bytes]], None]) -> str:
    """Call ``write(file)`` on a temporary file beside ``path``, make it durable (fsync), then
    rename it into place; return the SHA-256 of the bytes written.

    The digest is read back from the temporary file, which only this call has open (mkstemp
    creates it exclusively), so it covers the bytes this writer wrote, whatever another process
    does to ``path``. The file gets the permissions a plain ``open(path, 'w')`` would give
    (mkstemp's are 0600).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "w+b") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            f.seek(0)
            digest = sha256_of(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    fsync_folder(folder)
    return digest


def fsync_folder(folder: str) -> None:
    """Make the names in ``folder`` (renames, new entries) durable; a no-op where folders cannot
    be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:                             # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:                             # pragma: no cover - some file systems
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_npz(path: str, arrays: dict, compress: bool = True,
             extra: Optional[dict] = None) -> str:
    """Write ``arrays`` as an ``.npz`` atomically: the archive ``np.savez`` (or, compressed,
    ``np.savez_compressed``) writes, but the names are not passed to it as keywords, so a key
    may be 'file' or 'allow_pickle' too. Never pickles. ``extra`` maps further member names to
    bytes (e.g. a JSON member). Returns the SHA-256 of the file written."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED

    def write(f: IO[bytes]) -> None:
        with zipfile.ZipFile(f, "w", compression=method) as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            for name, data in (extra or {}).items():
                archive.writestr(name, data)
    return atomic_write(path, write)


def save_json(path: str, obj: Any) -> str:
    """Write ``obj`` as indented JSON atomically; return the SHA-256 of the file written."""
    text = json.dumps(obj, indent=1, sort_keys=True) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def open_regular(path: str, op: str) -> IO[bytes]:
    """``path`` opened for reading in binary mode, if it is a regular file (symbolic links are
    followed to one); else ValueError naming ``op`` and the file. A folder, a device such as
    ``/dev/zero`` or a pipe is never read: their size is unbounded or meaningless."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise ValueError(f"{op}: {path} is missing") from None
    except IsADirectoryError:
        raise ValueError(f"{op}: {path} is a folder, not a file") from None
    except OSError as error:
        raise ValueError(f"{op}: cannot open {path} ({error.strerror or error})") from None
    mode = os.fstat(f.fileno()).st_mode
    if not stat.S_ISREG(mode):
        f.close()
        what = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device or a pipe)"
        raise ValueError(f"{op}: {path} is {what}; only regular files are read")
    return f


def sha256_of(f: IO[bytes]) -> str:
    """SHA-256 of the rest of the open file ``f``, read in chunks of 1 MiB."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: f.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def parse_json(data: bytes, where: str, op: str) -> Any:
    """JSON ``data`` read from ``where``, with every way it can be malformed (bad syntax, bad
    UTF-8, nesting too deep for the parser) turned into one ValueError naming the file."""
    try:
        return json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{op}: {where} is not valid JSON ({error})") from None
    except RecursionError:
        raise ValueError(f"{op}: {where} is not valid JSON (nested too deeply)") from None


def read_json(path: str, op: str, limit: int = MAX_JSON_BYTES) -> Any:
    """The JSON in the regular file ``path``, at most ``limit`` bytes long; ValueError naming
    ``op`` and the file for anything else."""
    with open_regular(path, op) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{op}: {path} is larger than {limit:,} bytes, too large for a JSON "
                         "file of minigrad's")
    return parse_json(data, path, op)


class FolderLockedError(OSError):
    """Another process (or another save in this one) holds the lock of a checkpoint folder."""


@contextlib.contextmanager
def folder_lock(folder: str, op: str, name: str = ".lock") -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (``flock`` on ``folder/name``) while the block runs;
    raise FolderLockedError at once if someone else holds it.

    The operating system releases the lock when its holder exits, however it dies, so a lock
    left by a killed process is never stale: the ``.lock`` file stays, unlocked. Where ``fcntl``
    is missing (Windows) nothing is locked.
    """
    if fcntl is None:                           # pragma: no cover - Windows
        yield
        return
    lock = os.path.join(folder, name)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderLockedError(f"{op}: another process is saving into {folder} (it holds "
                                    f"{lock}); two runs cannot share one checkpoint "
                                    "folder") from None
        yield
    finally:
        os.close(fd)                            # closing releases the lock
