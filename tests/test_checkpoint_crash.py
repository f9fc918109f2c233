"""Checkpoints survive crashes: a killed or failing mg.save leaves the previous file intact, and
mg.load refuses truncated, corrupted and pickle-bearing files; a failed load changes nothing."""
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn, optim


def _state(seed=0):
    rng = np.random.default_rng(seed)
    return {"layer.weight": rng.standard_normal((4, 3)).astype(np.float32),
            "layer.bias": np.arange(3, dtype=np.float64), "steps": np.array(7)}


def _assert_same(loaded, state):
    assert sorted(loaded) == sorted(state)
    for key, value in state.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == value.dtype


def _temporaries(folder):
    return [name for name in os.listdir(folder) if name.startswith(".tmp-")]


def _written(folder):
    """Bytes written so far to the temporary files in ``folder``."""
    total = 0
    for name in _temporaries(folder):
        try:
            total += os.path.getsize(os.path.join(folder, name))
        except FileNotFoundError:              # renamed into place meanwhile
            pass
    return total


_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import minigrad as mg
    big = {"weight": np.ones((4096, 4096))}          # 128 MB: the write takes a while
    print("ready", flush=True)
    mg.save(big, sys.argv[1])
    print("done", flush=True)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_process_killed_mid_save_leaves_the_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "model.npz"
    state = _state()
    mg.save(state, path)
    killed_mid_write = False
    for _ in range(5):                               # retry if the child was too fast for us
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 30
        while _written(tmp_path) < 2 ** 20 and child.poll() is None and \
                time.monotonic() < deadline:                 # until 1 MB of 128 is written
            time.sleep(0.0005)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            killed_mid_write = child.returncode == -signal.SIGKILL and \
                _written(tmp_path) > 0
        child.stdout.close()
        if killed_mid_write:
            break
        mg.save(state, path)                         # the child finished: start over
    assert killed_mid_write, "could not catch the child in the middle of its save"
    _assert_same(mg.load(path), state)               # the old checkpoint, whole
    for name in _temporaries(tmp_path):              # the half-written temporary is not it
        with pytest.raises(ValueError, match="load: cannot read"):
            mg.load(tmp_path / name)


class _DiskFull(OSError):
    pass


@pytest.mark.parametrize("fail_after", [0, 1, 2])
def test_an_injected_write_failure_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch,
                                                                         fail_after):
    path = tmp_path / "model.npz"
    state = _state()
    mg.save(state, path)
    real_write_array = np.lib.format.write_array
    written = []

    def write_then_fail(file, array, **kwargs):
        if len(written) == fail_after:               # some arrays made it to disk...
            raise _DiskFull(28, "No space left on device")   # ...then the disk filled up
        real_write_array(file, array, **kwargs)
        written.append(array)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    with pytest.raises(_DiskFull):
        mg.save(_state(seed=1), path)
    monkeypatch.undo()
    _assert_same(mg.load(path), state)
    assert _temporaries(tmp_path) == []              # the temporary was removed


def test_an_interrupt_during_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    state = _state()
    mg.save(state, path)

    def interrupted(file, array, **kwargs):
        file.write(b"\x93NUMPY half")
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mg.save(_state(seed=1), path)
    monkeypatch.undo()
    _assert_same(mg.load(path), state)
    assert _temporaries(tmp_path) == []


def test_save_then_load_round_trips_exactly(tmp_path):
    state = _state()
    mg.save(state, tmp_path / "a.npz")
    _assert_same(mg.load(tmp_path / "a.npz"), state)


@given(fraction=st.floats(0.0, 0.999))
def test_every_truncation_is_refused_with_value_error(tmp_path_factory, fraction):
    folder = tmp_path_factory.mktemp("trunc")
    path = folder / "model.npz"
    mg.save(_state(), path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(ValueError, match="load: cannot read"):
        mg.load(path)


@given(position=st.floats(0.0, 0.999), flip=st.integers(1, 255))
def test_a_corrupted_byte_is_refused_or_changes_nothing_silently(tmp_path_factory, position,
                                                                 flip):
    """A flipped byte is refused with ValueError, unless it sits where it means nothing (zip
    padding, a timestamp), in which case the arrays must come back exactly."""
    folder = tmp_path_factory.mktemp("flip")
    path = folder / "model.npz"
    state = _state()
    mg.save(state, path)
    data = bytearray(path.read_bytes())
    data[int(len(data) * position)] ^= flip
    path.write_bytes(bytes(data))
    try:
        loaded = mg.load(path)
    except ValueError as error:
        assert "load: cannot read" in str(error)
    else:
        _assert_same(loaded, state)


def test_pickle_bearing_files_are_refused(tmp_path):
    objects = tmp_path / "objects.npz"
    np.savez(objects, weight=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        mg.load(objects)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps({"weight": np.ones(3)}))
    with pytest.raises(ValueError, match="pickle"):
        mg.load(raw)
    with pytest.raises(TypeError, match="object"):
        mg.save({"weight": np.array([None], dtype=object)}, tmp_path / "never.npz")
    assert not (tmp_path / "never.npz").exists()


def test_other_files_are_refused(tmp_path):
    npy = tmp_path / "one.npy"
    np.save(npy, np.ones(3))
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    for path in (npy, empty, text):
        with pytest.raises(ValueError, match="load: cannot read"):
            mg.load(path)
    with pytest.raises(FileNotFoundError):
        mg.load(tmp_path / "missing.npz")


def _snapshot(module):
    return {key: np.array(value, copy=True) for key, value in module.state_dict().items()}


@pytest.mark.parametrize("corrupt", ["shape", "dtype", "missing", "unexpected", "last_bad"])
def test_load_state_dict_with_a_bad_entry_changes_nothing(corrupt):
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    before = _snapshot(model)
    mg.manual_seed(1)
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    state = dict(other.state_dict())
    keys = sorted(state)
    if corrupt == "shape":
        state[keys[0]] = np.zeros((9, 9), dtype=np.float32)
    elif corrupt == "dtype":
        state[keys[0]] = np.zeros(np.shape(state[keys[0]]), dtype=np.complex64)
    elif corrupt == "missing":
        del state[keys[0]]
    elif corrupt == "unexpected":
        state["extra.weight"] = np.zeros(2, dtype=np.float32)
    else:                                   # every entry good but the last one checked
        state[keys[-1]] = np.zeros((5,) + np.shape(state[keys[-1]]), dtype=np.float32)
    with pytest.raises(ValueError, match="load_state_dict"):
        model.load_state_dict(state)
    after = _snapshot(model)
    assert sorted(after) == sorted(before)
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])


def test_optimizer_load_state_dict_with_a_bad_entry_changes_nothing():
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    x = mg.tensor(np.ones((2, 3), dtype=np.float32))
    model(x).sum().backward()
    opt.step()
    good = opt.state_dict()
    bad = {"state": {k: dict(v) for k, v in good["state"].items()},
           "param_groups": [dict(g) for g in good["param_groups"]]}
    last = sorted(bad["state"])[-1]
    bad["state"][last]["exp_avg"] = np.zeros((7, 7))
    bad["param_groups"][0]["lr"] = 0.5
    before_state = {p: {k: np.array(v, copy=True) for k, v in s.items()}
                    for p, s in opt.state.items()}
    with pytest.raises(ValueError, match="load_state_dict"):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["lr"] == 0.01
    for p, s in opt.state.items():
        for k, v in s.items():
            np.testing.assert_array_equal(v, before_state[p][k])


def test_a_model_saved_and_loaded_from_disk_computes_the_same(tmp_path):
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    mg.save(model.state_dict(), tmp_path / "m.npz")
    mg.manual_seed(5)
    clone = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    clone.load_state_dict(mg.load(tmp_path / "m.npz"))
    x = mg.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(clone(x).data, model(x).data)


@given(cut=st.integers(0, 21), position=st.integers(0, 21), flip=st.integers(1, 255))
def test_a_damaged_empty_archive_is_refused(tmp_path_factory, cut, position, flip):
    """The archive of an empty dict (a plain SGD's optimizer.npz) loads as {}; cut short or with
    any of its 22 bytes flipped it is refused (every field of its end record is checked)."""
    folder = tmp_path_factory.mktemp("empty")
    path = folder / "optimizer.npz"
    mg.save({}, path)
    data = path.read_bytes()
    assert mg.load(path) == {}
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError, match="load: cannot read"):
        mg.load(path)
    flipped = bytearray(data)
    flipped[position] ^= flip
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="load: cannot read"):
        mg.load(path)
