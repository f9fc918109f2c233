"""In-place updates of a Tensor (``add_``, ``mul_``, ``zero_``, ``+=`` ...) and their safety net.

Every in-place update bumps the tensor's version counter ``_version``, which also stamps the
tensor (``_written``) with the count of in-place writes so far (``next_write``, one count for
the whole process: a tensor may be shared by threads). A tensor and the tensors that view its
memory (made by reshape, indexing, transpose, ``detach``...) share one counter (``Versions``),
so writing the base is seen by a node that recorded a view, and the reverse. When an op is
recorded, ``Function.apply`` notes that count (``write_count``); before running that op's
backward the engine checks that no input or output was stamped later (``check_unmodified``),
and one that was raises a RuntimeError naming the op and the tensor instead of returning a
gradient computed from the wrong values.
When no in-place write happened since recording, the check is a single integer comparison.

Three cases, by what the update touches:

- a leaf not recorded (plain data, a gradient, or a parameter under ``no_grad``): the new values
  are written into the tensor's own buffer, so every alias of the array sees them (an optimizer
  step). A read-only buffer (a broadcast view, as the gradient of a sum often is) is replaced by
  a fresh array instead;
- a recorded update (grad mode on and the tensor or the operand requires grad): the update is
  an ordinary op on the old value, so it is differentiable. The old value moves to a new Tensor
  object that takes the tensor's former place in the graph, and the tensor becomes the op's
  output, holding a fresh array, so no array the graph saved is overwritten;
- a non-leaf updated under ``no_grad``: a fresh array too, for the same reason.

An in-place update of a leaf that requires grad is refused in grad mode: the leaf's value is
what its gradient is taken with respect to, so it cannot also be the result of an op.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import autograd
from .tensor import Tensor

write_count = 0   # in-place writes so far; read it, only next_write() advances it


class Versions:
    """The version counter of one buffer: ``count`` in-place writes so far, ``written`` the
    process-wide write count (``write_count``) at the last of them.

    A tensor gets one at its first write, or when another tensor starts viewing its memory
    (``share_versions``): then the base and its views share the one counter, as in PyTorch,
    so a write through any of them is seen by a node that recorded any other.
    """

    __slots__ = ("count", "written")

    def __init__(self, count: int = 0, written: int = 0) -> None:
        self.count, self.written = count, written


def share_versions(view: Tensor, inputs: tuple) -> None:
    """Give ``view`` the version counter of the input whose memory its array views (the output
    of reshape, indexing, transpose... on plain arrays: NumPy returns views)."""
    for tensor in inputs:
        if np.may_share_memory(view.data, tensor.data):
            versions = tensor._versions
            if versions is None:
                versions = tensor._versions = Versions()
            view._versions = versions
            return


def next_write() -> int:
    """Count one more in-place write and return the count: setting ``tensor._version`` stamps
    the tensor with it, so a node recorded before the write can tell."""
    global write_count
    write_count += 1
    return write_count


def check_unmodified(fn: Any) -> None:
    """Raise if an input or output of ``fn`` was written in place after ``fn`` was recorded."""
    if fn._writes != write_count and written_since(fn):
        raise modified_error(fn)


def written_since(fn: Any) -> bool:
    """Whether an input or output of ``fn`` was written in place after ``fn`` was recorded."""
    for tensor in fn.inputs + fn.outputs:
        if tensor is not None and tensor._written > fn._writes:
            return True
    return False


def modified_error(fn: Any) -> RuntimeError:
    """The error for a backward whose input or output was modified in place after forward."""
    for index, tensor in enumerate(fn.inputs):
        if tensor._written > fn._writes:
            what, changed = f"input {index}", tensor
            break
    else:
        changed = next(o for o in fn.outputs if o is not None and o._written > fn._writes)
        what = "its output"
    return RuntimeError(
        f"{fn.name}: {what} (a tensor of shape {changed.shape}) was modified by an in-place "
        f"operation after {fn.name} used it (it is now at version {changed._version}), so its "
        f"backward would compute a wrong gradient. Do the in-place update after "
        f"backward(), or on a copy (e.g. `x = x + 1` instead of `x += 1`). "
        f"{anomaly.where_created(fn)}")


_LEAF = ("{name}: a leaf tensor that requires grad (shape {shape}) cannot be modified in place "
         "while grad mode is on, because its value is what gradients are taken with respect "
         "to. Update it inside `with mg.no_grad():` (as optimizers do), or work on a copy")


def update(tensor: Tensor, name: str, op: Callable[..., Tensor], *args: Any) -> Tensor:
    """Replace ``tensor``'s value by ``op(tensor, *args)`` in place and bump its version."""
    for value in args:
        if value is None and name == "clamp_":       # clamp_ takes None for a missing bound
            continue
        if not isinstance(value, (Tensor, np.ndarray, int, float, np.number)):
            raise TypeError(f"{name}: expected a Tensor, an ndarray or a number, got "
                            f"{type(value).__name__}")
    operand_grad = any(isinstance(a, Tensor) and a._requires_grad for a in args)
    if autograd.is_grad_enabled() and (tensor._requires_grad or operand_grad):
        if tensor._requires_grad and tensor.grad_fn is None:
            raise RuntimeError(_LEAF.format(name=name, shape=tensor.shape))
        _record(tensor, name, op, args)
        tensor._version += 1
        if tensor.grad_fn is not None:              # the new node's output is born here
            tensor.grad_fn.mark_recorded_after_writes()
        return tensor
    with autograd.no_grad():
        result = _checked(tensor, name, _run(name, op, tensor, args))
    if tensor.grad_fn is None:
        _write(tensor, name, result.data)
    else:
        tensor.data = result.data.astype(tensor.dtype, copy=False)
    tensor._version += 1
    return tensor


def _run(name: str, op: Callable[..., Tensor], x: Tensor, args: tuple) -> Tensor:
    """``op(x, *args)``, with an error that names the in-place method the user called."""
    try:
        return op(x, *args)
    except (ValueError, TypeError) as error:
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(f"{name}: {error}") from None


def _checked(tensor: Tensor, name: str, result: Tensor) -> Tensor:
    """Refuse a result that cannot replace the tensor's value (other shape, other dtype kind)."""
    if result.shape != tensor.shape:
        raise ValueError(f"{name}: the result has shape {result.shape} but the tensor updated in "
                         f"place has shape {tensor.shape}; an in-place op cannot change a "
                         "tensor's shape (the other operand must broadcast to it)")
    if not np.can_cast(result.dtype, tensor.dtype, casting="same_kind"):
        raise TypeError(f"{name}: the result has dtype {result.dtype}, which cannot be stored in "
                        f"place in a tensor of dtype {tensor.dtype}")
    return result


def _write(tensor: Tensor, name: str, values: np.ndarray) -> None:
    """Copy ``values`` into the tensor's own buffer (a fresh one if it is read-only)."""
    if tensor.data.flags.writeable:
        np.copyto(tensor.data, values, casting="same_kind")
    else:                            # a broadcast view, e.g. the gradient of a sum
        tensor.data = values.astype(tensor.dtype)


def _record(tensor: Tensor, name: str, op: Callable[..., Tensor], args: tuple) -> None:
    """Make the update a recorded op whose output is ``tensor`` itself."""
    old = _split_off(tensor)
    args = tuple(old if value is tensor else value for value in args)   # x *= x
    result = _checked(tensor, name, _run(name, op, old, args))   # may raise: nothing changed yet
    _take_place(old, tensor)
    if old._versions is not None:    # tensor gets a fresh array: its own counter from here on
        tensor._versions = Versions(old._versions.count, old._versions.written)
    if result.dtype != tensor.dtype:
        result = result.astype(tensor.dtype)
    tensor.data = result.data
    tensor._requires_grad = result._requires_grad
    tensor.grad_fn = result.grad_fn
    if result.grad_fn is not None:
        result.grad_fn.replace_output(result, tensor)


def _split_off(tensor: Tensor) -> Tensor:
    """A new Tensor holding ``tensor``'s current value, made by the same node."""
    old = Tensor.__new__(Tensor)
    old.data = tensor.data
    old._grad = None
    old._hooks = None
    old._versions = tensor._versions   # the old buffer, which views of tensor still see
    old._requires_grad = tensor._requires_grad
    old.grad_fn = tensor.grad_fn
    return old


def _take_place(old: Tensor, tensor: Tensor) -> None:
    """Make ``old`` the output of the node that made ``tensor`` (once the update succeeded)."""
    if tensor.grad_fn is not None:
        tensor.grad_fn.replace_output(tensor, old)


# -- the updates, as out-of-place ops on the old value ---------------------------------------
def add(x: Tensor, other: Any, alpha: Any = 1) -> Tensor:
    """x + alpha·other."""
    return x + (other if alpha == 1 else other * alpha)


def sub(x: Tensor, other: Any, alpha: Any = 1) -> Tensor:
    """x - alpha·other."""
    return x - (other if alpha == 1 else other * alpha)


def fill(x: Tensor, value: Any) -> Tensor:
    """Every element set to ``value`` (the gradient to the old value is zero)."""
    from .functional import where
    everywhere = np.ones(x.shape, dtype=bool)
    return where(everywhere, np.full(x.shape, value, dtype=x.dtype), x)


from . import anomaly  # noqa: E402  (anomaly.py imports this module)
