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
