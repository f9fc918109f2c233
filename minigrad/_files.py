"""Writing files so that a crash never leaves a half-written one behind."""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import IO, Any, Callable

import numpy as np


def atomic_write(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    The file gets the permissions a plain ``open(path, 'w')`` would give (mkstemp's are 0600).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_npz(path: str, arrays: dict, compress: bool = True) -> None:
    """Write ``arrays`` as an ``.npz`` atomically: the archive ``np.savez`` (or, compressed,
    ``np.savez_compressed``) writes, but the names are not passed to it as keywords, so a key
    may be 'file' or 'allow_pickle' too. Never pickles."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED

    def write(f: IO[bytes]) -> None:
        with zipfile.ZipFile(f, "w", compression=method) as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    atomic_write(path, write)


def save_json(path: str, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically."""
    text = json.dumps(obj, indent=1, sort_keys=True) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
