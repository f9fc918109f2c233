"""save_checkpoint keeps the last good checkpoint: each save writes its own generation folder and
switches to it in one atomic rename, under a lock; failures, kills and a second writer leave one
whole, consistent checkpoint; hostile checkpoint files are refused by name, with bounded reads."""
import hashlib
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from minigrad import nn, optim
from minigrad._files import FolderLockedError, folder_lock
from minigrad.train import (CHECKPOINT_FILES, History, checkpoint_path, load_checkpoint,
                            read_checkpoint, save_checkpoint)


def run_of(value, epochs):
    """A model and an optimizer whose every number says ``value``, and a history of ``epochs``
    epochs: what a checkpoint mixed from two runs would show at once."""
    model = nn.Linear(3, 2)
    for p in model.parameters():
        p.data[...] = value
    opt = optim.SGD(model.parameters(), lr=float(value))
    history = History([float(value)] * epochs, [0.5] * epochs, [], [1.0] * epochs)
    return model, opt, history


def assert_whole(folder, value=None):
    """The checkpoint in ``folder`` is read in one go, and every part of it comes from one run
    (of ``value``, when given; then it also loads into a model)."""
    parts = read_checkpoint(folder)
    values = {float(parts["model.npz"]["weight"].flat[0]),
              parts["optimizer.json"]["param_groups"][0]["lr"],
              parts["config.json"]["value"], parts["history.json"]["train_loss"][-1],
              float(len(parts["history.json"]["train_loss"])), float(parts["manifest"]["epoch"])}
    assert len(values) == 1, values
    if value is not None:
        assert values == {value}
        model, opt, _ = run_of(0, 0)
        assert len(load_checkpoint(folder, model, opt)) == value
        assert np.all(model.weight.data == value) and opt.param_groups[0]["lr"] == value


def entries(folder):
    return sorted(os.listdir(folder))


def save(folder, value):
    model, opt, history = run_of(value, int(value))
    save_checkpoint(folder, model, opt, history, {"value": value})


def test_a_save_writes_a_new_generation_and_removes_the_previous(tmp_path):
    save(tmp_path, 1)
    first = entries(tmp_path)
    save(tmp_path, 2)
    second = entries(tmp_path)
    assert len(first) == len(second) == 3 and first != second
    generation = pathlib.Path(checkpoint_path(tmp_path)).parent.name
    assert second == sorted([".lock", "checkpoint.json", generation])
    assert sorted(os.listdir(tmp_path / generation)) == sorted(CHECKPOINT_FILES)
    assert_whole(tmp_path, 2)


class _DiskFull(OSError):
    pass


@pytest.mark.parametrize("fail_at", ["optimizer.npz", "history.json", "config.json",
                                     "checkpoint.json"])
def test_a_save_failing_part_way_leaves_the_previous_checkpoint(tmp_path, monkeypatch, fail_at):
    import minigrad._files as files
    save(tmp_path, 1)
    before = entries(tmp_path)
    real = files.atomic_write

    def fill_disk(path, write):
        if os.path.basename(path) == fail_at:
            raise _DiskFull(28, "No space left on device")
        return real(path, write)

    monkeypatch.setattr(files, "atomic_write", fill_disk)
    with pytest.raises(_DiskFull):
        save(tmp_path, 2)
    monkeypatch.undo()
    assert_whole(tmp_path, 1)
    assert entries(tmp_path) == before               # the half-written generation is gone


# A child that saves epoch 2 over epoch 1 and stops, printing a marker, at a chosen point of the
# save; the test then kills it with SIGKILL. (The hook is a wrapper installed in the child only.)
_KILLED_CHILD = textwrap.dedent("""
    import os, sys, time
    import minigrad._files as files
    from minigrad import nn, optim
    from minigrad.train import History, save_checkpoint
    folder, stop_at = sys.argv[1], sys.argv[2]
    real = files.atomic_write

    def write_then_stop(path, write):
        name = os.path.basename(path)
        if name == stop_at:
            def half(f):
                f.write(b"{half")
                f.flush()
                print("stopped", flush=True)
                time.sleep(60)
            return real(path, half)
        return real(path, write)

    files.atomic_write = write_then_stop
    model = nn.Linear(3, 2)
    for p in model.parameters():
        p.data[...] = 2
    opt = optim.SGD(model.parameters(), lr=2.0)
    save_checkpoint(folder, model, opt, History([2.0] * 2, [0.5] * 2, [], [1.0] * 2),
                    {"value": 2})
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("stop_at", ["history.json", "checkpoint.json"])
def test_a_save_killed_part_way_leaves_the_previous_checkpoint(tmp_path, stop_at):
    save(tmp_path, 1)
    before = entries(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, str(tmp_path), stop_at],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "stopped"
        assert any(name.startswith(".tmp-") for name in os.listdir(tmp_path))
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert_whole(tmp_path, 1)                        # the previous checkpoint, whole
    save(tmp_path, 3)                                # the next save cleans up
    assert len(entries(tmp_path)) == len(before) == 3
    assert not any(name.startswith(".tmp-") for name in os.listdir(tmp_path))
    assert_whole(tmp_path, 3)


def test_a_second_writer_gets_a_clear_error(tmp_path):
    save(tmp_path, 1)
    with folder_lock(str(tmp_path), "test"):         # as another process saving would
        with pytest.raises(FolderLockedError, match="another process is saving into"):
            save(tmp_path, 2)
    assert_whole(tmp_path, 1)
    save(tmp_path, 3)                                # the lock is free again
    assert_whole(tmp_path, 3)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_the_lock_of_a_killed_process_is_not_stale(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from minigrad._files import folder_lock\n"
         "with folder_lock(sys.argv[1], 'x'):\n    print('locked', flush=True)\n"
         "    time.sleep(60)", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderLockedError):
            save(tmp_path, 1)
    finally:
        holder.kill()
        holder.wait(timeout=30)
        holder.stdout.close()
    save(tmp_path, 2)
    assert_whole(tmp_path, 2)


_WRITER = textwrap.dedent("""
    import sys, time
    from minigrad._files import FolderLockedError
    from minigrad import nn, optim
    from minigrad.train import History, save_checkpoint
    folder, value, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    model = nn.Linear(3, 2)
    for p in model.parameters():
        p.data[...] = value
    opt = optim.SGD(model.parameters(), lr=float(value))
    history = History([float(value)] * value, [0.5] * value, [], [1.0] * value)
    print("ready", flush=True)
    sys.stdin.readline()                             # start together
    saved = refused = 0
    deadline = time.monotonic() + 20
    while saved < rounds and time.monotonic() < deadline:
        try:
            save_checkpoint(folder, model, opt, history, {"value": value})
            saved += 1
        except FolderLockedError:
            refused += 1
            time.sleep(0.001)                        # and try again
    print(saved, refused, flush=True)
""")


def test_two_processes_saving_into_one_folder_never_mix_their_files(tmp_path):
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), str(value), "15"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for value in (1, 2)]
    try:
        for writer in writers:
            assert writer.stdout.readline().strip() == "ready"
        for writer in writers:
            writer.stdin.write("go\n")
            writer.stdin.flush()
        loads = 0
        deadline = time.monotonic() + 30
        while any(w.poll() is None for w in writers) and time.monotonic() < deadline:
            if (tmp_path / "checkpoint.json").exists():
                try:
                    assert_whole(tmp_path)           # read while both write: never a mix
                    loads += 1
                except ValueError as error:          # only if it changed on every attempt
                    assert "changed 3 times while it was being read" in str(error)
        counts = [list(map(int, w.communicate(timeout=30)[0].split())) for w in writers]
    finally:
        for writer in writers:
            writer.kill()
            writer.wait(timeout=30)
    assert all(saved > 0 for saved, _ in counts), counts
    assert loads > 0
    assert_whole(tmp_path)
    assert len(entries(tmp_path)) == 3 and not any(
        name.startswith(".tmp-") for name in os.listdir(tmp_path))


def test_a_checkpoint_of_the_first_format_still_loads_and_is_replaced(tmp_path):
    """minigrad before generations wrote the six files straight into the folder, with a
    checkpoint.json of {"epoch", "sha256"}; such folders load, and the next save replaces them."""
    save(tmp_path, 2)
    generation = pathlib.Path(checkpoint_path(tmp_path)).parent
    for name in CHECKPOINT_FILES:
        shutil.move(generation / name, tmp_path / name)
    generation.rmdir()
    (tmp_path / "checkpoint.json").write_text(json.dumps({"epoch": 2, "sha256": {
        name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        for name in CHECKPOINT_FILES}}))
    assert checkpoint_path(tmp_path) == str(tmp_path / "model.npz")
    assert_whole(tmp_path, 2)
    save(tmp_path, 3)
    assert not any((tmp_path / name).exists() for name in CHECKPOINT_FILES)
    assert_whole(tmp_path, 3)


# -- hostile checkpoint files ----------------------------------------------------------------
def _device(folder, name):
    if not os.path.exists("/dev/zero"):
        pytest.skip("needs /dev/zero")
    path = pathlib.Path(checkpoint_path(folder, name))
    path.unlink()
    path.symlink_to("/dev/zero")


def _folder(folder, name):
    path = pathlib.Path(checkpoint_path(folder, name))
    path.unlink()
    path.mkdir()


def _deep(folder, name):
    (folder / "checkpoint.json").write_text("[" * 100000 + "]" * 100000)


def _huge(folder, name):
    with open(folder / "checkpoint.json", "wb") as f:
        f.truncate(65 * 2 ** 20)                     # sparse: 65 MiB of zeros


@pytest.mark.parametrize("damage, name, words", [
    (_device, "model.npz", "model.npz is not a regular file"),
    (_device, "history.json", "history.json is not a regular file"),
    (_folder, "model.npz", "model.npz is a folder"),
    (_deep, None, "checkpoint.json is not valid JSON (nested too deeply)"),
    (_huge, None, "checkpoint.json is larger than 67,108,864 bytes"),
])
def test_hostile_checkpoint_files_are_one_value_error_and_one_cli_line(
        tmp_path, capsys, damage, name, words):
    from minigrad.__main__ import main
    assert main(["train", "--hidden", "8", "--epochs", "1", "--no-progress", "--out",
                 str(tmp_path)]) == 0
    damage(tmp_path, name)
    model, opt, _ = run_of(0, 0)
    with pytest.raises(ValueError, match=f"load_checkpoint: .*{re.escape(words)}"):
        load_checkpoint(tmp_path, model, opt)
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path), "--epochs", "2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("minigrad train: error: load_checkpoint:")
    assert words in err
