"""``mg.save`` / ``mg.load``: state dicts as ``.npz`` archives, written atomically, read without
pickle."""
from __future__ import annotations

import collections
import os
import struct
from typing import Any, Dict, List, Optional, Union

import numpy as np

from ._files import save_npz
from .tensor import Tensor

PathLike = Union[str, "os.PathLike[str]"]
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"     # an archive with no members is only its end record


def save(state_dict: Dict[str, Any], path: PathLike) -> None:
    """Write ``state_dict`` (names to ndarrays or Tensors) to ``path`` as an ``.npz`` archive.

    The archive is written to a temporary file in the same folder and renamed into place with
    ``os.replace``, so a crash never leaves a half-written checkpoint at ``path``; a missing
    folder is created. Only numeric arrays are accepted (no object arrays, hence no pickle). The
    file is written at ``path`` exactly (no '.npz' is appended).

    Parameters
    ----------
    state_dict : dict of str to ndarray or Tensor
        Usually ``model.state_dict()`` (dotted names, parameters and buffers).
    path : str or os.PathLike
        Where to write.

    Raises
    ------
    TypeError
        For a non-dict, a non-string key, or a non-numeric array.
    IsADirectoryError
        When ``path`` is a folder.
    """
    if not isinstance(state_dict, dict):
        raise TypeError(f"save: expected a dict of names to arrays (e.g. model.state_dict()), "
                        f"got {type(state_dict).__name__}")
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"save: every key must be a non-empty string, got {key!r}")
        try:
            array = value.data if isinstance(value, Tensor) else np.asarray(value)
        except ValueError as error:                          # a ragged list
            raise ValueError(f"save: '{key}' is not an array: {error}") from None
        if array.dtype.kind not in "fiub":
            raise TypeError(f"save: '{key}' has dtype {array.dtype}; only numeric arrays can "
                            "be saved (object arrays would need pickle)")
        arrays[key] = array
    path = _path(path, "save")
    if os.path.isdir(path):
        raise IsADirectoryError(f"save: '{path}' is a folder; give the path of a file in it, "
                                f"such as '{os.path.join(path, 'model.npz')}'")
    save_npz(path, arrays, compress=False)


def load(path: PathLike) -> Dict[str, np.ndarray]:
    """Read a state dict written by ``save``: a flat dict of dotted names to ndarrays.

    Never unpickles (``allow_pickle=False``). A missing file raises FileNotFoundError and a
    folder IsADirectoryError; a file that is truncated, corrupted, not an ``.npz`` archive,
    holds a member that is not a ``.npy`` array, holds two members of the same name or holds
    pickled objects raises ValueError naming the file and the problem. The archive of an empty
    dict (``save({}, path)``) reads back as ``{}``.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``mg.save`` (any ``.npz`` of numeric arrays).

    Returns
    -------
    dict of str to ndarray
        In the order they were saved.
    """
    path = _path(path, "load")
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file: '{path}'")
    if os.path.isdir(path):
        raise IsADirectoryError(f"load: '{path}' is a folder, not a file written by mg.save")
    with open(path, "rb") as file:
        return _read_archive(file, path)


def _path(path: Any, op: str) -> str:
    """``path`` as a str, with an error naming ``op`` for anything that is not a path."""
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"{op}: path must be a str or os.PathLike, got "
                        f"{type(path).__name__}") from None


def _count_members(file: Any) -> Optional[int]:
    """How many arrays the archive holds, found by walking its local headers one after the other
    (None when a header keeps its size elsewhere). A damaged central directory can hide members
    from the zip reader; this count does not depend on it."""
    count = offset = 0
    while True:
        file.seek(offset)
        header = file.read(30)
        if len(header) < 30 or not header.startswith(_ZIP_MAGIC):
            return count
        flags, size, plain, name_length, extra_length = (
            int.from_bytes(header[a:b], "little")
            for a, b in ((6, 8), (18, 22), (22, 26), (26, 28), (28, 30)))
        if flags & 0x08:                     # sizes in a data descriptor after the data
            return None
        if size == 0xFFFFFFFF:               # zip64 (as np.savez writes): sizes in an extra field
            file.seek(offset + 30 + name_length)
            size = _zip64_size(file.read(extra_length), plain == 0xFFFFFFFF)
            if size is None:
                return None
        offset += 30 + name_length + extra_length + size
        count += 1


def _zip64_size(extra: bytes, has_plain_size: bool) -> Optional[int]:
    """The compressed size in a zip64 extra field (tag 1), after the plain size if present."""
    i = 0
    while i + 4 <= len(extra):
        tag = int.from_bytes(extra[i:i + 2], "little")
        length = int.from_bytes(extra[i + 2:i + 4], "little")
        field = extra[i + 4:i + 4 + length]
        if tag == 1:
            start = 8 if has_plain_size else 0
            size = field[start:start + 8]
            return int.from_bytes(size, "little") if len(size) == 8 else None
        i += 4 + length
    return None


def _read_archive(file: Any, path: str) -> Dict[str, np.ndarray]:
    """Every array of the open .npz ``file``, with format errors turned into ValueError."""
    magic = file.read(6)
    file.seek(0)
    if magic.startswith(_EMPTY_ZIP_MAGIC):
        return _read_empty_archive(file, path)
    if not magic.startswith(_ZIP_MAGIC):
        if magic.startswith(b"\x93NUMPY"):
            what = "it holds a single .npy array, not an .npz archive of named arrays"
        elif magic.startswith(b"\x80"):
            what = "it contains pickled data, which is refused (allow_pickle=False)"
        elif not magic:
            what = "the file is empty"
        else:
            what = "it is not an .npz archive"
        raise ValueError(f"load: cannot read '{path}': {what} (write checkpoints with mg.save)")
    try:
        stored = _count_members(file)
        file.seek(0)
        archive = np.load(file, allow_pickle=False)
        with archive:
            if stored is not None and stored != len(archive.files):
                raise ValueError(f"load: cannot read '{path}': the file is corrupted (its "
                                 f"directory lists {len(archive.files)} arrays but it holds "
                                 f"{stored})")
            _check_members(archive.zip.namelist(), path)
            arrays = {name: archive[name] for name in archive.files}
            for name, value in arrays.items():
                if not isinstance(value, np.ndarray):   # NpzFile hands out raw bytes then
                    raise ValueError(f"load: cannot read '{path}': its member '{name}.npy' is "
                                     "not a .npy array")
            return arrays
    except ValueError as error:
        message = str(error)
        if message.startswith("load: "):
            raise
        if "pickle" in message.lower():
            message = "it contains pickled data, which is refused (allow_pickle=False)"
        raise ValueError(f"load: cannot read '{path}': {message}") from None
    except MemoryError:
        raise
    except Exception as error:
        # BadZipFile, zlib.error, EOFError, NotImplementedError (a damaged 'version needed'
        # field), struct.error...: whatever a damaged archive makes the parser raise
        raise ValueError(f"load: cannot read '{path}': the file is truncated or corrupted "
                         f"({type(error).__name__}: {error})") from None


def _check_members(names: List[str], path: str) -> None:
    """ValueError unless every member of the archive is a uniquely named ``.npy`` file."""
    foreign = [name for name in names if not name.endswith(".npy")]
    if foreign:
        raise ValueError(f"load: cannot read '{path}': its member '{foreign[0]}' is not a .npy "
                         "array (an .npz archive written by mg.save holds only .npy arrays)")
    twice = sorted(name for name, count in collections.Counter(names).items() if count > 1)
    if twice:
        raise ValueError(f"load: cannot read '{path}': the member name(s) {twice} occur more "
                         "than once, so which copy is meant is ambiguous")


def _read_empty_archive(file: Any, path: str) -> Dict[str, np.ndarray]:
    """``{}`` for a zip with no members (what ``save({})`` writes: a lone 22-byte end record,
    with no other bytes than its comment), else ValueError: anything else starting with the end
    record's signature is damaged."""
    data = file.read(22 + 0xFFFF + 1)           # the record, its longest comment, and one more
    if len(data) >= 22:
        *counts, comment_length = struct.unpack("<HHHHIIH", data[4:22])
        if not any(counts) and len(data) == 22 + comment_length:
            return {}
    raise ValueError(f"load: cannot read '{path}': the file is truncated or corrupted (it starts "
                     "like an archive with no arrays, but its end record is damaged)")
