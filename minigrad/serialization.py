"""``mg.save`` / ``mg.load``: state dicts (and nested checkpoints of dicts, lists and arrays) as
``.npz`` archives, written atomically, read without pickle and with bounded memory."""
from __future__ import annotations

import collections
import json
import math
import os
import stat
import struct
import zipfile
from typing import Any, Dict, List, Optional, Union

import numpy as np

from ._files import MAX_JSON_BYTES, parse_json, save_npz
from .tensor import Tensor

PathLike = Union[str, "os.PathLike[str]"]
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"     # an archive with no members is only its end record
_STRUCTURE = "structure.json"       # the member describing a nested checkpoint
_MAX_DEPTH = 100                    # containers nested deeper are refused (or contain themselves)
_MAX_HEADER = 10000                 # the longest .npy header read (NumPy's own default limit)
_DEFLATE_RATIO = 1032               # the most a deflated stream can expand


def save(obj: Dict[Any, Any], path: PathLike) -> None:
    """Write ``obj`` to ``path`` as an ``.npz`` archive, atomically, without pickle.

    ``obj`` is a dict. A dict of string names to ndarrays or Tensors (``model.state_dict()``) is
    written as a plain ``.npz``, one ``.npy`` member per name, as ``np.savez`` writes it. Any
    other dict, e.g. ``{'model': model.state_dict(), 'optimizer': opt.state_dict(),
    'epoch': 3}``, may nest dicts (string or integer keys), lists and tuples of arrays, Tensors,
    NumPy scalars, ints, floats, strings, bools and None; its arrays are written as ``0.npy``,
    ``1.npy``, ... and its structure as the JSON member ``structure.json``, so that ``load``
    gives back the same structure exactly (integer keys stay integers, tuples stay tuples,
    Tensors come back as ndarrays).

    The archive is written to a temporary file in the same folder, made durable (fsync) and
    renamed into place with ``os.replace``, so a crash never leaves a half-written checkpoint at
    ``path``; a missing folder is created. Only numeric arrays are accepted (no object arrays,
    hence no pickle). The file is written at ``path`` exactly (no '.npz' is appended).

    Parameters
    ----------
    obj : dict
        Usually ``model.state_dict()`` (dotted names, parameters and buffers), or a dict of
        such dicts and plain values.
    path : str or os.PathLike
        Where to write.

    Raises
    ------
    TypeError
        For a non-dict, a key that is not a string or an integer, a value of another type, or
        a non-numeric array.
    ValueError
        For containers nested more than 100 levels deep (or containing themselves).
    IsADirectoryError
        When ``path`` is a folder.
    """
    _write(obj, _path(path, "save"))


def _write(obj: Dict[Any, Any], path: str) -> str:
    """``save``; returns the SHA-256 of the file written."""
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a dict of names to arrays (e.g. model.state_dict()), "
                        f"got {type(obj).__name__}")
    extra = {}
    if all(isinstance(key, str) and key and isinstance(value, (np.ndarray, Tensor))
           for key, value in obj.items()):
        arrays = {key: _numeric(value, repr(key)) for key, value in obj.items()}
    else:
        arrays = {}
        structure = _encode(obj, arrays, "", 0)
        extra[_STRUCTURE] = json.dumps(structure, separators=(",", ":")).encode("utf-8")
    if os.path.isdir(path):
        raise IsADirectoryError(f"save: '{path}' is a folder; give the path of a file in it, "
                                f"such as '{os.path.join(path, 'model.npz')}'")
    return save_npz(path, arrays, compress=False, extra=extra)


def _numeric(value: Any, where: str) -> np.ndarray:
    """``value`` (ndarray, Tensor or NumPy scalar) as a numeric ndarray, else TypeError."""
    array = value.data if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"save: {where} has dtype {array.dtype}; only numeric arrays can "
                        "be saved (object arrays would need pickle)")
    return array


def _encode(value: Any, arrays: Dict[str, np.ndarray], where: str, depth: int) -> Any:
    """``value`` as JSON-ready data: None, bools, numbers and strings as themselves, every
    container as a one-key object naming its kind (``{"dict": [[key, value], ...]}``,
    ``{"list": [...]}``, ``{"tuple": [...]}``), and each array as ``{"array": i}`` (or a NumPy
    scalar as ``{"scalar": i}``) after appending it to ``arrays`` as member ``i``."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"save: the dict is nested more than {_MAX_DEPTH} levels deep (or "
                         "contains itself)")
    if isinstance(value, (np.ndarray, np.generic, Tensor)):
        index = len(arrays)
        arrays[str(index)] = _numeric(value, where or "the value")
        return {"scalar" if isinstance(value, np.generic) else "array": index}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"save: every key must be a string or an integer, got {key!r} "
                                f"(of type {type(key).__name__}) in {where or 'the dict'}")
            items.append([key, _encode(item, arrays, f"{where}[{key!r}]", depth + 1)])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(item, arrays, f"{where}[{i}]", depth + 1)
                       for i, item in enumerate(value)]}
    raise TypeError(f"save: cannot save {where or 'the value'} of type {type(value).__name__}: "
                    "only dicts, lists, tuples, arrays, Tensors, numbers, strings, "
                    "bools and None are saved, without pickle")


def load(path: PathLike) -> Dict[Any, Any]:
    """Read what ``save`` wrote: a flat dict of names to ndarrays, or the nested dict saved.

    Never unpickles (``allow_pickle=False``). A missing file raises FileNotFoundError and a
    folder IsADirectoryError; anything else that is not a regular file (a device such as
    ``/dev/zero``, a pipe), and a file that is truncated, corrupted, not an ``.npz`` archive,
    holds a member that is not a ``.npy`` array, holds two members of the same name, holds
    pickled objects, or declares arrays larger than the bytes it holds, raises ValueError
    naming the file and the problem, before any large allocation. The archive of an empty dict
    (``save({}, path)``) reads back as ``{}``.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``mg.save`` (or any ``.npz`` of numeric arrays).

    Returns
    -------
    dict
        Names to ndarrays in the order they were saved, or the nested structure saved.
    """
    path = _path(path, "load")
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file: '{path}'")
    if os.path.isdir(path):
        raise IsADirectoryError(f"load: '{path}' is a folder, not a file written by mg.save")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"load: cannot read '{path}': it is not a regular file (a device or a "
                         "pipe), so it is not read")
    with open(path, "rb") as file:
        return read_archive(file, path)


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


def read_archive(file: Any, path: str) -> Dict[Any, Any]:
    """What ``load`` returns, read from the open binary ``file`` (``path`` names it in errors):
    every format error becomes a ValueError naming the file, raised before a large allocation.
    """
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
        file.seek(0, os.SEEK_END)
        size = file.tell()
        file.seek(0)
        with np.load(file, allow_pickle=False) as archive:
            names = archive.zip.namelist()
            if stored is not None and stored != len(names):
                raise ValueError(f"the file is corrupted (its directory lists {len(names)} "
                                 f"members but it holds {stored})")
            structured = _check_members(names)
            for info in archive.zip.infolist():
                _check_member_size(archive.zip, info, size)
            arrays = {name: archive[name] for name in archive.files if name != _STRUCTURE}
            for name, value in arrays.items():
                if not isinstance(value, np.ndarray):   # NpzFile hands out raw bytes then
                    raise ValueError(f"its member '{name}.npy' is not a .npy array")
            if not structured:
                return arrays
            structure = parse_json(archive.zip.read(_STRUCTURE), f"its member '{_STRUCTURE}'",
                                   "load")
            return _decode(structure, arrays, 0)
    except ValueError as error:
        message = str(error)
        if message.startswith("Object arrays cannot be loaded"):     # NumPy's own words
            message = "it contains pickled data, which is refused (allow_pickle=False)"
        raise ValueError(f"load: cannot read '{path}': {message}") from None
    except MemoryError:
        raise
    except Exception as error:
        # BadZipFile, zlib.error, EOFError, NotImplementedError (a damaged 'version needed'
        # field), struct.error...: whatever a damaged archive makes the parser raise
        raise ValueError(f"load: cannot read '{path}': the file is truncated or corrupted "
                         f"({type(error).__name__}: {error})") from None


def _check_members(names: List[str]) -> bool:
    """ValueError unless every member of the archive is a uniquely named ``.npy`` file, but for
    one ``structure.json`` whose arrays are ``0.npy``, ``1.npy``, ...; whether it has that."""
    twice = sorted(name for name, count in collections.Counter(names).items() if count > 1)
    if twice:
        raise ValueError(f"the member name(s) {twice} occur more than once, so which copy is "
                         "meant is ambiguous")
    structured = _STRUCTURE in names
    foreign = [name for name in names if not name.endswith(".npy") and name != _STRUCTURE]
    if foreign:
        raise ValueError(f"its member '{foreign[0]}' is not a .npy array (an .npz archive "
                         "written by mg.save holds only .npy arrays)")
    if structured and sorted(names) != sorted([_STRUCTURE] + [f"{i}.npy"
                                                             for i in range(len(names) - 1)]):
        raise ValueError(f"it has a {_STRUCTURE} but its arrays are not named 0.npy, 1.npy, ...")
    return structured


def _check_member_size(archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int) -> None:
    """ValueError unless the member's sizes are possible in a file of ``size`` bytes and, for a
    ``.npy`` member, its header is readable and declares no more data than the member holds:
    what NumPy would allocate is then bounded by the bytes on disk."""
    stored_as = info.compress_size
    expands = 1 if info.compress_type == zipfile.ZIP_STORED else _DEFLATE_RATIO
    if info.header_offset + stored_as > size or info.file_size > stored_as * expands + 64:
        raise ValueError(f"the file is truncated or corrupted (its member '{info.filename}' "
                         f"claims {info.file_size:,} bytes, more than the file can hold)")
    if info.filename == _STRUCTURE:
        if info.file_size > MAX_JSON_BYTES:
            raise ValueError(f"its member '{_STRUCTURE}' is larger than {MAX_JSON_BYTES:,} "
                             "bytes")
        return
    with archive.open(info) as member:
        declared, header_end = _npy_header(member, info.filename)
    if declared > info.file_size - header_end:
        raise ValueError(f"its member '{info.filename}' declares {declared:,} bytes of array "
                         f"data but holds only {info.file_size - header_end:,} (a damaged or "
                         "forged header)")


def _npy_header(member: Any, name: str) -> tuple:
    """The number of data bytes the ``.npy`` header of ``member`` declares, and where the data
    starts; ValueError saying what is wrong with the header."""
    start = member.read(10)
    if len(start) < 10 or not start.startswith(b"\x93NUMPY"):
        raise ValueError(f"its member '{name}' is not a .npy array")
    major = start[6]
    length_bytes = 2 if major == 1 else 4
    length = int.from_bytes((start[8:10] + member.read(length_bytes - 2))[:length_bytes],
                            "little")
    if length > _MAX_HEADER:
        raise ValueError(f"its member '{name}' has a .npy header of {length:,} bytes, longer "
                         f"than the {_MAX_HEADER:,} that are read (a damaged or forged header)")
    reader = np.lib.format.read_array_header_1_0 if major == 1 else \
        np.lib.format.read_array_header_2_0
    member.seek(8)                                       # past the magic and the version
    try:
        shape, _, dtype = reader(member, max_header_size=_MAX_HEADER)
    except ValueError as error:
        raise ValueError(f"its member '{name}' has a malformed .npy header ({error})") from None
    if dtype.hasobject:
        raise ValueError("it contains pickled data, which is refused (allow_pickle=False)")
    return math.prod(shape) * dtype.itemsize, member.tell()


def _decode(node: Any, arrays: Dict[str, np.ndarray], depth: int) -> Any:
    """The inverse of ``_encode``; ValueError for anything it would not have written."""
    if depth > _MAX_DEPTH + 1:
        raise ValueError(f"its {_STRUCTURE} is nested more than {_MAX_DEPTH} levels deep")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    kind, content = next(iter(node.items())) if isinstance(node, dict) and len(node) == 1 \
        else (None, None)
    if kind in ("array", "scalar"):
        if isinstance(content, bool) or not isinstance(content, int) or \
                str(content) not in arrays:
            raise ValueError(f"its {_STRUCTURE} names the array {content!r}, which it lacks")
        array = arrays[str(content)]
        return array[()] if kind == "scalar" and array.ndim == 0 else array
    if kind in ("list", "tuple") and isinstance(content, list):
        items = [_decode(item, arrays, depth + 1) for item in content]
        return items if kind == "list" else tuple(items)
    if kind == "dict" and isinstance(content, list):
        return _decode_dict(content, arrays, depth)
    raise ValueError(f"its {_STRUCTURE} holds {_short(node)}, which mg.save never writes")


def _decode_dict(pairs: List[Any], arrays: Dict[str, np.ndarray], depth: int) -> Dict[Any, Any]:
    """The dict of ``[key, value]`` ``pairs`` (string or integer keys, each once)."""
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and not isinstance(pair[0], bool)
                and isinstance(pair[0], (str, int))):
            raise ValueError(f"its {_STRUCTURE} holds the dict entry {_short(pair)}, which "
                             "mg.save never writes")
    if len({(type(key), key) for key, _ in pairs}) < len(pairs):
        raise ValueError(f"its {_STRUCTURE} has a dict with a repeated key")
    return {key: _decode(value, arrays, depth + 1) for key, value in pairs}


def _short(value: Any) -> str:
    """``repr(value)``, cut to 60 characters for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
