"""MNIST and Fashion-MNIST: download from mirrors, verify, parse IDX, cache as ``.npz``."""
from __future__ import annotations

import hashlib
import os
import socket
import sys
import urllib.error
import urllib.request
import warnings
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .._files import atomic_write, save_npz
from .idx import parse_idx

Split = Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]

#: The four IDX files of each data set, in the order train images, train labels, test images,
#: test labels.
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

#: Base URLs tried in turn for each file (``load_mnist(mirrors=...)`` replaces them).
MIRRORS: Dict[str, Tuple[str, ...]] = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/",
              "http://yann.lecun.com/exdb/mnist/"),
    "fashion": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/"
                "fashion/"),
}

#: MD5 digests of the published gzip files (``load_mnist(checksums=...)`` replaces them).
CHECKSUMS: Dict[str, Dict[str, str]] = {
    "mnist": {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
              "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
              "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
              "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
    "fashion": {"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
}

_CACHE_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DownloadError(OSError):
    """No mirror could deliver a data set file; the message lists every attempt."""


def load_mnist(root: str = "~/.cache/minigrad", download: bool = True, kind: str = "mnist",
               *, mirrors: Optional[Sequence[str]] = None,
               checksums: Optional[Mapping[str, str]] = None, timeout: float = 10.0,
               flatten: bool = True) -> Split:
    """MNIST (``kind='mnist'``) or Fashion-MNIST (``kind='fashion'``): 60,000 + 10,000 images.

    The first call finds the four IDX files in ``root/kind/`` (gzip-compressed or not, e.g.
    put there by hand) or downloads the missing ones, trying each mirror in turn with a
    ``timeout`` in seconds and checking each download's MD5 digest. The parsed arrays are cached
    in ``root/kind.npz``; later calls read only that (a corrupt cache is rebuilt).

    Parameters
    ----------
    root : str
        Folder of the cache and the downloaded files (``~`` is expanded).
    download : bool
        Whether missing files may be downloaded.
    kind : {'mnist', 'fashion'}
    mirrors : sequence of str, optional
        Base URLs to try, in order (default ``MIRRORS[kind]``).
    checksums : mapping of file name to MD5 hex digest, optional
        Expected digests of the ``.gz`` files (default ``CHECKSUMS[kind]``).
    timeout : float
        Seconds to wait for a mirror before trying the next.
    flatten : bool
        Images as rows of 784 values (default) or as (N, 1, 28, 28).

    Returns
    -------
    ((x_train, y_train), (x_test, y_test))
        float32 images scaled to [0, 1] (x = byte / 255) and int64 labels 0..9.

    Raises
    ------
    DownloadError
        When a file is neither on disk nor obtainable from any mirror; the message lists each
        URL tried with what went wrong, and where to put the files by hand.
    """
    if kind not in MIRRORS:
        raise ValueError(f"load_mnist: kind must be one of {sorted(MIRRORS)}, got {kind!r}")
    if not timeout > 0:
        raise ValueError(f"load_mnist: timeout must be positive, got {timeout!r}")
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"load_mnist: root must be a path, got {type(root).__name__}")
    root = os.path.expanduser(os.fspath(root))
    cache = os.path.join(root, f"{kind}.npz")
    arrays = _read_cache(cache)
    if arrays is None:
        folder = os.path.join(root, kind)
        mirrors = MIRRORS[kind] if mirrors is None else tuple(mirrors)
        checksums = CHECKSUMS[kind] if checksums is None else dict(checksums)
        raw = _gather(folder, download, mirrors, checksums, timeout, kind)
        arrays = _arrays_from_idx(raw)
        save_npz(cache, arrays)
    x_train, x_test = (_scale(arrays[k], flatten) for k in ("x_train", "x_test"))
    return (x_train, arrays["y_train"].astype(np.int64)), \
        (x_test, arrays["y_test"].astype(np.int64))


def _scale(images: np.ndarray, flatten: bool) -> np.ndarray:
    x = images.astype(np.float32) / np.float32(255.0)
    return x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, *x.shape[1:])


def _read_cache(path: str) -> Optional[Dict[str, np.ndarray]]:
    """The cached arrays, or None when the cache is missing or corrupt (then it is removed)."""
    if not os.path.exists(path):
        return None
    if os.path.isdir(path):
        raise ValueError(f"load_mnist: the cache path {path} is a folder; move it away or pass "
                         "another root")
    from ..serialization import load      # bounded: a forged header is refused, not allocated
    try:
        archive = load(path)
        arrays = {key: archive[key] for key in _CACHE_KEYS}
        _check_arrays(arrays)
        return arrays
    except (OSError, ValueError, KeyError, TypeError) as error:
        warnings.warn(f"load_mnist: the cache {path} is corrupt ({error}); rebuilding it",
                      RuntimeWarning, stacklevel=3)
        os.remove(path)
        return None


def _check_arrays(arrays: Mapping[str, np.ndarray]) -> None:
    """Raise ValueError unless the arrays are images and labels of matching counts."""
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.dtype != np.uint8 or x.ndim != 3 or y.dtype != np.uint8 or y.ndim != 1:
            raise ValueError(f"{part} images must be uint8 (N, H, W) and labels uint8 (N,), "
                             f"got {x.dtype} {x.shape} and {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"{len(x)} {part} images but {len(y)} labels")
        if len(x) == 0:
            raise ValueError(f"the {part} part holds no images")
        if y.size and y.max() > 9:
            raise ValueError(f"{part} labels must be 0..9, found {y.max()}")


def _arrays_from_idx(raw: Mapping[str, Tuple[str, bytes]]) -> Dict[str, np.ndarray]:
    """The four arrays from ``raw`` (file name -> (the path read, its bytes))."""
    arrays = {key: parse_idx(raw[name][1], raw[name][0])
              for key, name in zip(_CACHE_KEYS, FILES)}
    try:
        _check_arrays(arrays)
    except ValueError as error:
        raise ValueError(f"load_mnist: the IDX files do not make a data set: {error}") from None
    return arrays


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _gather(folder: str, download: bool, mirrors: Sequence[str], checksums: Mapping[str, str],
            timeout: float, kind: str) -> Dict[str, Tuple[str, bytes]]:
    """Where each of the four files was read and its bytes, from ``folder`` or the mirrors; one
    error if any is lacking."""
    raw: Dict[str, Tuple[str, bytes]] = {}
    tried: List[str] = []
    for name in FILES:
        if name not in checksums:
            raise ValueError(f"load_mnist: checksums has no entry for {name}")
        data = _from_disk(folder, name, checksums[name], tried)
        if data is None and download:
            data = _from_mirrors(folder, name, checksums[name], mirrors, timeout, tried)
        if data is not None:
            raw[name] = data
    missing = [name for name in FILES if name not in raw]
    if missing:
        attempts = "\n".join(f"  - {line}" for line in tried) or "  (nothing)"
        why = f" (first failure: {tried[0]})" if tried else ""
        why = why if download else " (download=False)"
        raise DownloadError(       # the first line says it all: the command prints only that
            f"load_mnist: could not get {', '.join(missing)} for kind={kind!r}{why}; download "
            f"the files by hand ({', '.join(FILES)}; gzip-compressed or not) into "
            f"{folder}{os.sep} and call load_mnist again.\nTried:\n{attempts}")
    return raw


def _from_disk(folder: str, name: str, md5: str,
               tried: List[str]) -> Optional[Tuple[str, bytes]]:
    """A file put in ``folder`` earlier (its path and bytes): the .gz if its digest matches,
    else the raw IDX."""
    gz_path = os.path.join(folder, name)
    if os.path.exists(gz_path):
        with open(gz_path, "rb") as f:
            data = f.read()
        if _md5(data) == md5:
            return gz_path, data
        tried.append(f"{gz_path}: MD5 {_md5(data)}, expected {md5}")
    raw_path = gz_path[:-len(".gz")]
    if os.path.exists(raw_path):
        with open(raw_path, "rb") as f:
            return raw_path, f.read()   # no published digest for the raw file: parse_idx checks it
    return None


def _from_mirrors(folder: str, name: str, md5: str, mirrors: Sequence[str], timeout: float,
                  tried: List[str]) -> Optional[Tuple[str, bytes]]:
    """The first download of ``name`` whose digest matches, saved into ``folder`` (its path and
    bytes)."""
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                # said once the mirror answers, so that offline the error is all there is
                print(f"minigrad: downloading {url}", file=sys.stderr)
                data = response.read()
        except urllib.error.HTTPError as error:
            tried.append(f"{url}: HTTP {error.code} {error.reason}")
            continue
        except urllib.error.URLError as error:
            reason = error.reason
            tried.append(f"{url}: " + (f"timed out after {timeout:g} s"
                                       if isinstance(reason, socket.timeout) else str(reason)))
            continue
        except (socket.timeout, TimeoutError):
            tried.append(f"{url}: timed out after {timeout:g} s")
            continue
        except OSError as error:
            tried.append(f"{url}: {error}")
            continue
        if _md5(data) != md5:
            tried.append(f"{url}: wrong checksum (MD5 {_md5(data)}, expected {md5})")
            continue
        path = os.path.join(folder, name)
        atomic_write(path, lambda f: f.write(data))
        return path, data
    return None
