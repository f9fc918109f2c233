"""load_mnist against a local HTTP server (127.0.0.1, port 0) serving IDX files it made.

No test here touches the real network: every mirror is the local server.
"""
import gzip
import hashlib
import http.server
import struct
import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad.data import DownloadError, load_mnist
from minigrad.data.idx import parse_idx
from minigrad.data.mnist import FILES


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX file written by hand: magic 0 0 type ndim, big-endian sizes, big-endian data."""
    big = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + np.asarray(array, dtype=big[type_code]).tobytes()


def make_dataset(seed: int = 0, n_train: int = 12, n_test: int = 5):
    rng = np.random.default_rng(seed)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, n_test, dtype=np.uint8)}
    files = {name: gzip.compress(idx_bytes(arrays[key]))
             for name, key in zip(FILES, ("x_train", "y_train", "x_test", "y_test"))}
    return arrays, files


@pytest.fixture
def server():
    """A local server; ``paths`` maps a URL path to (status, body, delay in seconds)."""
    routes, hits = {}, []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802  (the name http.server calls)
            hits.append(self.path)
            status, body, delay = routes.get(self.path, (404, b"not found", 0))
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass            # the client gave up (a timeout test)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, routes, hits
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def serve(routes, prefix, files, status=200, delay=0, corrupt=False):
    for name, body in files.items():
        routes[f"/{prefix}/{name}"] = (status, body[:-3] + b"xyz" if corrupt else body, delay)


def md5s(files):
    return {name: hashlib.md5(body).hexdigest() for name, body in files.items()}


def expect(arrays, result):
    (x_train, y_train), (x_test, y_test) = result
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.shape == (len(arrays["x_train"]), 784)
    np.testing.assert_array_equal(x_train, arrays["x_train"].reshape(-1, 784) / np.float32(255))
    np.testing.assert_array_equal(x_test, arrays["x_test"].reshape(-1, 784) / np.float32(255))
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])


def test_mirrors_are_tried_in_turn_until_one_serves_the_right_bytes(server, tmp_path):
    base, routes, hits = server
    arrays, files = make_dataset()
    serve(routes, "forbidden", files, status=403, delay=0)
    serve(routes, "corrupt", files, corrupt=True)
    serve(routes, "good", files)
    mirrors = [f"{base}/forbidden/", f"{base}/missing", f"{base}/corrupt/", f"{base}/good/"]
    result = load_mnist(tmp_path, mirrors=mirrors, checksums=md5s(files))
    expect(arrays, result)
    assert [h.split("/")[1] for h in hits[:4]] == ["forbidden", "missing", "corrupt", "good"]
    assert (tmp_path / "mnist.npz").exists()
    for name in FILES:
        assert (tmp_path / "mnist" / name).read_bytes() == files[name]


def test_second_call_reads_the_cache_only(server, tmp_path):
    base, routes, hits = server
    arrays, files = make_dataset(1)
    serve(routes, "good", files)
    load_mnist(tmp_path, mirrors=[f"{base}/good"], checksums=md5s(files))
    count = len(hits)
    for name in FILES:                       # even without the IDX files
        (tmp_path / "mnist" / name).unlink()
    expect(arrays, load_mnist(tmp_path, mirrors=[f"{base}/good"], checksums=md5s(files)))
    assert len(hits) == count


def test_offline_gives_one_error_listing_every_attempt(server, tmp_path):
    base, routes, _ = server
    _, files = make_dataset()
    serve(routes, "forbidden", files, status=403)
    serve(routes, "corrupt", files, corrupt=True)
    serve(routes, "slow", files, delay=1.0)
    mirrors = [f"{base}/forbidden/", f"{base}/missing/", f"{base}/corrupt/", f"{base}/slow/"]
    with pytest.raises(DownloadError) as info:
        load_mnist(tmp_path / "root", mirrors=mirrors, checksums=md5s(files), timeout=0.3)
    message = str(info.value)
    for name in FILES:
        assert name in message
        assert f"{base}/forbidden/{name}: HTTP 403" in message
        assert f"{base}/missing/{name}: HTTP 404" in message
        assert f"{base}/corrupt/{name}: wrong checksum" in message
        assert f"{base}/slow/{name}: timed out" in message
    assert str(tmp_path / "root" / "mnist") in message          # where to put the files
    assert not (tmp_path / "root" / "mnist.npz").exists()


def test_unreachable_host_is_reported(tmp_path):
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()                             # nothing listens on this port now
    _, files = make_dataset()
    with pytest.raises(DownloadError, match=f"127.0.0.1:{port}/train-images"):
        load_mnist(tmp_path, mirrors=[f"http://127.0.0.1:{port}"], checksums=md5s(files))


def test_download_false_uses_files_put_by_hand_gz_or_raw(tmp_path):
    arrays, files = make_dataset(2)
    folder = tmp_path / "fashion"
    folder.mkdir()
    for i, (name, body) in enumerate(files.items()):
        if i % 2:
            (folder / name).write_bytes(body)
        else:
            (folder / name[:-3]).write_bytes(gzip.decompress(body))    # raw IDX
    result = load_mnist(tmp_path, download=False, kind="fashion", checksums=md5s(files))
    expect(arrays, result)


def test_download_false_without_files_says_so(tmp_path):
    with pytest.raises(DownloadError, match=r"download=False[\s\S]*by hand"):
        load_mnist(tmp_path, download=False)


def test_a_corrupt_cache_is_detected_and_rebuilt(server, tmp_path):
    base, routes, _ = server
    arrays, files = make_dataset(3)
    serve(routes, "good", files)
    kwargs = dict(mirrors=[f"{base}/good"], checksums=md5s(files))
    load_mnist(tmp_path, **kwargs)
    cache = tmp_path / "mnist.npz"
    good = cache.read_bytes()
    for bad in (good[: len(good) // 2], b"garbage", b""):
        cache.write_bytes(bad)
        with pytest.warns(RuntimeWarning, match="corrupt"):
            expect(arrays, load_mnist(tmp_path, **kwargs))
        expect(arrays, load_mnist(tmp_path, **kwargs))    # rebuilt: no warning needed


def test_a_cache_with_wrong_contents_is_rebuilt(tmp_path):
    arrays, files = make_dataset(4)
    (tmp_path / "mnist").mkdir()
    for name, body in files.items():
        (tmp_path / "mnist" / name).write_bytes(body)
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 3)), y_train=np.zeros(2),
             x_test=np.zeros((1, 3)), y_test=np.zeros(1))
    with pytest.warns(RuntimeWarning, match="corrupt"):
        expect(arrays, load_mnist(tmp_path, download=False, checksums=md5s(files)))


def test_a_local_gz_with_a_wrong_digest_is_replaced_by_a_download(server, tmp_path):
    base, routes, _ = server
    arrays, files = make_dataset(5)
    serve(routes, "good", files)
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / FILES[0]).write_bytes(b"\x1f\x8b broken")
    expect(arrays, load_mnist(tmp_path, mirrors=[f"{base}/good"], checksums=md5s(files)))
    assert (tmp_path / "mnist" / FILES[0]).read_bytes() == files[FILES[0]]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="load_mnist: kind"):
        load_mnist(tmp_path, kind="cifar")
    with pytest.raises(ValueError, match="load_mnist: timeout"):
        load_mnist(tmp_path, timeout=0)
    with pytest.raises(ValueError, match="checksums has no entry"):
        load_mnist(tmp_path, checksums={})
    with pytest.raises(TypeError, match="load_mnist: root"):
        load_mnist(None)


def test_unflattened_images(tmp_path):
    arrays, files = make_dataset(6)
    (tmp_path / "mnist").mkdir()
    for name, body in files.items():
        (tmp_path / "mnist" / name).write_bytes(body)
    (x, _), _ = load_mnist(tmp_path, download=False, checksums=md5s(files), flatten=False)
    assert x.shape == (12, 1, 28, 28)


# -- the IDX parser ---------------------------------------------------------------------------
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
       code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]), compress=st.booleans(),
       seed=st.integers(0, 100))
def test_parse_idx_round_trip(shape, code, compress, seed):
    native = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32,
              0x0E: np.float64}[code]
    array = np.asarray(np.random.default_rng(seed).standard_normal(shape) * 100)
    array = array.astype(native)
    raw = idx_bytes(array, code)
    parsed = parse_idx(gzip.compress(raw) if compress else raw)
    assert parsed.dtype == np.dtype(native) and parsed.dtype.isnative
    np.testing.assert_array_equal(parsed, array)


@pytest.mark.parametrize("raw, word", [
    (b"", "magic"), (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "magic"),
    (b"\x01\x00\x08\x01", "magic"), (b"\x00\x00\x08\x02\x00\x00", "cut short"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02", "needs 3"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "needs 1"),
    (b"\x1f\x8b\x08\x00garbage", "gzip"),
])
def test_parse_idx_rejects_malformed_bytes(raw, word):
    with pytest.raises(ValueError, match=f"the file: .*{word}"):
        parse_idx(raw, "the file")


def test_files_with_no_images_are_refused_and_not_cached(tmp_path):
    _, files = make_dataset(3, n_train=0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name, body in files.items():
        (folder / name).write_bytes(body)
    for _ in range(2):                                # the second call must not find a cache
        with pytest.raises(ValueError, match="load_mnist: .*the train part holds no images"):
            load_mnist(tmp_path, download=False, checksums=md5s(files))
    assert not (tmp_path / "mnist.npz").exists()


def test_errors_about_a_raw_idx_file_name_that_file(tmp_path):
    _, files = make_dataset(4)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name, body in files.items():
        raw = gzip.decompress(body)
        (folder / name[:-3]).write_bytes(raw[:-1] if name.startswith("train-images") else raw)
    with pytest.raises(ValueError, match=r"mnist[/\\]train-images-idx3-ubyte: IDX body has"):
        load_mnist(tmp_path, download=False, checksums=md5s(files))


@pytest.mark.parametrize("sizes, message", [
    ((2 ** 31, 2 ** 31, 4), "needs 18446744073709551616"),     # an int64 product would wrap
    ((7,) * 40, "IDX header claims 40 dimensions"),
])
def test_a_lying_idx_header_is_refused_with_the_true_size(sizes, message):
    header = struct.pack(">BBBB", 0, 0, 0x08, len(sizes)) + struct.pack(">" + "I" * len(sizes),
                                                                      *sizes)
    with pytest.raises(ValueError, match=f"lying.idx: .*{message}"):
        parse_idx(header, "lying.idx")


def test_a_cache_path_that_is_a_folder_is_named(tmp_path):
    (tmp_path / "mnist.npz").mkdir()
    with pytest.raises(ValueError, match="load_mnist: the cache path .*mnist.npz is a folder"):
        load_mnist(tmp_path, download=False)


def test_a_cache_claiming_terabytes_is_rebuilt_not_allocated(tmp_path):
    """A 200-byte cache whose .npy header claims 8 TiB: a warning and a rebuild (it used to be
    a bare MemoryError)."""
    import zipfile
    arrays, files = make_dataset(6)
    (tmp_path / "mnist").mkdir()
    for name, body in files.items():
        (tmp_path / "mnist" / name).write_bytes(body)
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (8796093022208,), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 16
    with zipfile.ZipFile(tmp_path / "mnist.npz", "w") as archive:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            archive.writestr(f"{key}.npy", npy)
    with pytest.warns(RuntimeWarning, match="mnist.npz is corrupt .*declares 8,796,093,022,208 "
                                            "bytes"):
        expect(arrays, load_mnist(tmp_path, download=False, checksums=md5s(files)))


def test_the_first_line_of_a_download_error_says_it_all(tmp_path):
    with pytest.raises(DownloadError) as info:
        load_mnist(tmp_path, mirrors=["http://127.0.0.1:9/"], timeout=2)   # a closed port
    first = str(info.value).splitlines()[0]
    assert first.startswith("load_mnist: could not get train-images-idx3-ubyte.gz")
    assert "first failure: http://127.0.0.1:9/train-images-idx3-ubyte.gz:" in first
    assert f"by hand ({', '.join(FILES)}; gzip-compressed or not) into {tmp_path / 'mnist'}" \
        in first
