"""Reading the IDX format of MNIST's files (gzip-compressed or raw) with NumPy.

An IDX file is a 4-byte magic number ``0 0 T D`` (T the element type, D the number of
dimensions), then D big-endian uint32 sizes, then the elements in big-endian C order.
"""
from __future__ import annotations

import gzip
import math
import zlib

import numpy as np

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    """The array stored in ``raw`` (IDX bytes, gunzipped first if they start like gzip).

    Raises ValueError naming ``name`` when the bytes are not a well-formed IDX file.
    """
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"{name}: not a valid gzip file ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise ValueError(f"{name}: not an IDX file (magic bytes {raw[:4].hex() or 'missing'})")
    ndim = raw[3]
    if ndim > 32:                                  # NumPy's limit is 64; no data set has 33
        raise ValueError(f"{name}: IDX header claims {ndim} dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: IDX header cut short ({len(raw)} bytes for {ndim} sizes)")
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = header + math.prod(shape) * dtype.itemsize      # Python ints: no overflow
    if len(raw) != expected:
        raise ValueError(f"{name}: IDX body has {len(raw) - header} bytes, its header of shape "
                         f"{shape} and type {dtype.str} needs {expected - header}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))
