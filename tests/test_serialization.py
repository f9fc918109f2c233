"""mg.save / mg.load: bit-exact round trips, atomic writes, and clear errors for truncated,
corrupted, foreign and pickle-bearing files."""
import os
import pickle
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def trained_model():
    mg.manual_seed(0)
    model = nn.MLP(4, [5, 3], 2, use_batchnorm=True, dropout=0.1)
    x = mg.randn(6, 4)
    nn.SoftmaxCrossEntropy()(model(x), np.array([0, 1, 0, 1, 1, 0])).backward()
    return model


def test_round_trip_is_bit_exact(tmp_path):
    model = trained_model()
    state = model.state_dict()
    path = tmp_path / "model.ckpt"
    mg.save(state, path)
    assert os.listdir(tmp_path) == ["model.ckpt"]         # exactly that name, no temp left
    loaded = mg.load(path)
    assert list(loaded) == list(state)
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
        assert np.array_equal(loaded[key], value)
    fresh = nn.MLP(4, [5, 3], 2, use_batchnorm=True, dropout=0.1)
    fresh.load_state_dict(mg.load(str(path)))
    x = mg.randn(3, 4)
    model.eval()
    fresh.eval()
    assert np.array_equal(fresh(x).data, model(x).data)


def test_tensors_are_saved_as_arrays(tmp_path):
    path = tmp_path / "t.npz"
    mg.save({"w": mg.tensor([1.5, 2.5], dtype=np.float32), "n": np.array(3)}, path)
    loaded = mg.load(path)
    assert loaded["w"].dtype == np.float32 and loaded["n"] == 3


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    mg.save({"a": np.ones(3)}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated crash while writing")

    monkeypatch.setattr(np.lib.format, "write_array", crash)   # what writes each array
    with pytest.raises(KeyboardInterrupt):
        mg.save({"a": np.zeros(3)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]
    assert np.array_equal(mg.load(path)["a"], np.ones(3))


def test_save_refuses_what_would_need_pickle(tmp_path):
    with pytest.raises(TypeError, match="'bad' has dtype object"):
        mg.save({"bad": np.array([{"a": 1}], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="expected a dict"):
        mg.save([np.ones(2)], tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def written(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def good_bytes(tmp_path):
    path = tmp_path / "good.npz"
    mg.save(trained_model().state_dict(), path)
    return path.read_bytes()


def test_truncated_file(tmp_path):
    data = good_bytes(tmp_path)
    for cut in (len(data) // 2, len(data) - 10, 10):
        path = written(tmp_path, f"cut{cut}.npz", data[:cut])
        where = re.escape(str(path))
        with pytest.raises(ValueError, match=f"cannot read '{where}'.*truncated or corrupted"):
            mg.load(path)


def test_corrupted_file(tmp_path):
    data = bytearray(good_bytes(tmp_path))
    middle = len(data) // 3
    data[middle:middle + 16] = bytes(16)                      # zero 16 bytes of array data
    path = written(tmp_path, "corrupt.npz", bytes(data))
    with pytest.raises(ValueError, match=f"load: cannot read '{re.escape(str(path))}'"):
        mg.load(path)


def test_pickle_is_refused(tmp_path):
    pickled = written(tmp_path, "state.pkl", pickle.dumps({"w": np.ones(2)}))
    with pytest.raises(ValueError, match=f"{re.escape(str(pickled))}': it contains pickled"):
        mg.load(pickled)
    inside = tmp_path / "objects.npz"
    np.savez(inside, w=np.array([{"evil": 1}], dtype=object))  # an object array is pickled
    with pytest.raises(ValueError, match=f"{re.escape(str(inside))}': it contains pickled"):
        mg.load(inside)


def test_foreign_files(tmp_path):
    single = tmp_path / "single.npy"
    np.save(single, np.ones(2))
    with pytest.raises(ValueError, match="single .npy array, not an .npz archive"):
        mg.load(single)
    with pytest.raises(ValueError, match="it is not an .npz archive"):
        mg.load(written(tmp_path, "text.npz", b"hello world"))
    with pytest.raises(ValueError, match="the file is empty"):
        mg.load(written(tmp_path, "empty.npz", b""))
    with pytest.raises(FileNotFoundError, match="no such file"):
        mg.load(tmp_path / "missing.npz")


def test_keys_named_like_numpys_own_arguments_are_saved_too(tmp_path):
    state = {"file": np.arange(3.0), "allow_pickle": np.ones(2, np.float32), "w": np.zeros(1)}
    mg.save(state, tmp_path / "odd.npz")
    loaded = mg.load(tmp_path / "odd.npz")
    assert list(loaded) == list(state)
    for key, value in state.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == value.dtype


def test_an_empty_dict_round_trips(tmp_path):
    path = tmp_path / "empty.npz"
    mg.save({}, path)
    assert path.read_bytes()[:4] == b"PK\x05\x06"             # a zip with no members
    assert mg.load(path) == {}


@pytest.mark.parametrize("damage", ["junk after", "a member counted", "comment cut",
                                    "record cut"])
def test_a_damaged_empty_archive_is_refused(tmp_path, damage):
    path = tmp_path / "empty.npz"
    mg.save({}, path)
    data = bytearray(path.read_bytes())
    if damage == "junk after":
        data += b"\0"
    elif damage == "a member counted":
        data[10] = 1                                    # total number of entries
    elif damage == "comment cut":
        data[20] = 5                                    # a 5-byte comment that is not there
    else:
        del data[-4:]
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"cannot read '{re.escape(str(path))}'.*corrupted"):
        mg.load(path)


def zipped(path, members):
    import warnings
    import zipfile
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                 # zipfile warns of a duplicate name
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members:
                archive.writestr(name, data)
    return path


def npy_bytes(array):
    import io
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("members, problem", [
    ([("notes.txt", b"hello")], "member 'notes.txt' is not a .npy array"),
    ([("w.npy", npy_bytes(np.ones(2))), ("notes.txt", b"hi")], "'notes.txt' is not a .npy"),
    ([("w.npy", b"hello, not an array")], "member 'w.npy' is not a .npy array"),
    ([("w.npy", npy_bytes(np.ones(2))), ("w.npy", npy_bytes(np.zeros(2)))],
     r"\['w.npy'\] occur more than once"),
])
def test_archives_with_foreign_or_repeated_members_are_refused(tmp_path, members, problem):
    path = zipped(tmp_path / "foreign.npz", members)
    with pytest.raises(ValueError, match=f"load: cannot read '{re.escape(str(path))}'.*{problem}"):
        mg.load(path)


def test_a_folder_is_refused_by_name(tmp_path):
    where = re.escape(str(tmp_path))
    with pytest.raises(IsADirectoryError, match=f"save: '{where}' is a folder"):
        mg.save({"w": np.ones(2)}, tmp_path)
    with pytest.raises(IsADirectoryError, match=f"load: '{where}' is a folder"):
        mg.load(tmp_path)
    assert os.listdir(tmp_path) == []                   # no temporary left behind


# -- nested checkpoints: mg.save({'model': ..., 'optimizer': ..., 'epoch': 3}) -----------------
from hypothesis import given, settings                                  # noqa: E402
from hypothesis import strategies as st                                 # noqa: E402
from hypothesis.extra import numpy as hnp                               # noqa: E402

_arrays = hnp.arrays(st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_]),
                     hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
_leaves = (st.none() | st.booleans() | st.integers(-10 ** 30, 10 ** 30)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8) | _arrays
           | _arrays.filter(lambda a: a.ndim == 0).map(lambda a: a[()]))     # NumPy scalars
_nested = st.recursive(
    _leaves, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=6) | st.integers(-5, 5), inner, max_size=4),
    max_leaves=12)


def same(a, b):
    """``a`` and ``b`` equal in value and in type, all the way down (NaN equals NaN, -0.0 is not
    0.0, dict order and key types count)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray) or isinstance(a, np.generic):
        return a.dtype == b.dtype and np.shape(a) == np.shape(b) and \
            np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, float):
        return (a != a and b != b) or (a == b and np.copysign(1, a) == np.copysign(1, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(type(k) is type(j) for k, j in zip(a, b)) and \
            all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@settings(deadline=None)
@given(obj=st.dictionaries(st.text(max_size=6) | st.integers(), _nested, max_size=5))
def test_nested_dicts_lists_and_values_round_trip_exactly(tmp_path_factory, obj):
    path = tmp_path_factory.mktemp("nested") / "ckpt.npz"
    mg.save(obj, path)
    assert same(mg.load(path), obj)


def test_a_training_checkpoint_in_one_file_as_with_torch_save(tmp_path):
    from minigrad import optim
    model = trained_model()
    opt = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    opt.step()
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
             "best": None, "note": "run 1", "ok": True}
    mg.save(state, tmp_path / "ckpt.npz")
    loaded = mg.load(tmp_path / "ckpt.npz")
    assert same(loaded, state)
    assert list(loaded["optimizer"]["state"]) == list(range(len(list(model.parameters()))))
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.9)
    clone = optim.Adam(trained_model().parameters(), lr=0.5)
    clone.load_state_dict(loaded["optimizer"])              # what torch users do with it
    assert clone.param_groups[0]["lr"] == 0.01
    import zipfile
    names = zipfile.ZipFile(tmp_path / "ckpt.npz").namelist()
    assert "structure.json" in names and all(n.endswith(".npy") for n in names
                                             if n != "structure.json")


def test_a_flat_dict_of_arrays_keeps_the_plain_npz_format(tmp_path):
    state = trained_model().state_dict()
    mg.save(state, tmp_path / "flat.npz")
    with np.load(tmp_path / "flat.npz", allow_pickle=False) as archive:   # NumPy reads it
        assert archive.files == list(state)


@pytest.mark.parametrize("structure, problem", [
    (b'{"dict": [["w", {"array": 7}]]}', "names the array 7"),
    (b'{"dict": [["w", {"pickle": 0}]]}', "which mg.save never writes"),
    (b'{"dict": [[1.5, 2]]}', "dict entry"),
    (b'{"dict": [["a", 1], ["a", 2]]}', "repeated key"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    (b'{"list": [' * 150 + b"1" + b"]}" * 150, "nested more than 100 levels"),
    (b"not json", "not valid JSON"),
])
def test_a_damaged_structure_member_is_one_value_error(tmp_path, structure, problem):
    path = zipped(tmp_path / "nested.npz", [("0.npy", npy_bytes(np.ones(2))),
                                             ("structure.json", structure)])
    with pytest.raises(ValueError, match=f"load: cannot read '{re.escape(str(path))}'.*"
                                         f"{re.escape(problem)}"):
        mg.load(path)


def test_save_refuses_what_it_could_not_give_back(tmp_path):
    loop = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="nested more than 100 levels deep"):
        mg.save(loop, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"\['a'\]\[1\] of type set"):
        mg.save({"a": [1, {2}]}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="key must be a string or an integer, got True"):
        mg.save({"a": {True: 1}}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


# -- hostile files: bounded reads and the right words ------------------------------------------
def npy_claiming(shape, version=1, header_padding=0, data=b"\0" * 16):
    """The bytes of a .npy whose header declares ``shape`` of float64, with ``data`` after."""
    import struct
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * header_padding
    length_size = 2 if version == 1 else 4
    header += " " * (63 - (8 + length_size + len(header)) % 64) + "\n"
    length = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode("latin1") + data


def test_a_tiny_archive_claiming_terabytes_is_refused_before_allocating(tmp_path):
    path = zipped(tmp_path / "huge.npz", [("w.npy", npy_claiming((2 ** 40,)))])
    assert path.stat().st_size < 300
    with pytest.raises(ValueError, match=f"'{re.escape(str(path))}': its member 'w.npy' declares "
                                         "8,796,093,022,208 bytes of array data but holds only "
                                         "16"):
        mg.load(path)


def test_a_zip_directory_lying_about_a_member_size_is_refused(tmp_path):
    import zipfile
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("w.npy", npy_claiming((2,)))
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")                    # the member's directory entry
    data[central + 24:central + 28] = (2 ** 32 - 2).to_bytes(4, "little")   # its plain size
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="more than the file can hold"):
        mg.load(path)


def test_an_over_long_npy_header_is_named_as_such_not_as_pickle(tmp_path):
    path = zipped(tmp_path / "long.npz",
                  [("w.npy", npy_claiming((2,), version=2, header_padding=20000))])
    with pytest.raises(ValueError) as info:
        mg.load(path)
    assert "pickle" not in str(info.value)
    assert "header of 20," in str(info.value) and "longer than the 10,000" in str(info.value)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_symlink_to_a_device_is_not_read(tmp_path):
    link = tmp_path / "model.npz"
    link.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match="not a regular file"):
        mg.load(link)
