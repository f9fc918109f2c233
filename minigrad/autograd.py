"""Grad mode, ``Function`` (one node of the tape) and the backward engine.

Read it top to bottom: grad mode says whether ops are recorded; ``Function.apply`` runs an op
and records it as a node; ``run_backward`` replays the recorded nodes newest first. The tape is
implicit: every recorded node gets a sequence number from a counter, and since an op's inputs
exist before its outputs, visiting nodes in *descending* sequence order is a valid reverse
topological order. No recursion, so a 100,000-op chain is fine.

Everything optional in a backward (higher order, anomaly mode, observers, ``mg.grad``'s capture)
lives in a module of its own and plugs in through one hook point, a ``Step`` chosen once when
the backward starts (see ``Step``). docs/engine.md walks through one backward.
"""
from __future__ import annotations

import contextvars
import functools
import heapq
import itertools
import weakref
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import numpy as np

_sequence = itertools.count()  # stamps recorded nodes in creation order (shared by all threads)


# -- grad mode: per thread, as in PyTorch (a context variable: each thread starts with its own,
# recording on, and an asyncio task keeps its own too) ------------------------------------------
_grad_enabled = contextvars.ContextVar("minigrad_grad_enabled", default=True)


def is_grad_enabled() -> bool:
    """Whether ops are currently recorded on the tape (in this thread)."""
    return _grad_enabled.get()


class _GradMode:
    """Context manager and decorator that sets grad mode and restores the previous one."""

    _enabled: bool

    def __new__(cls, func: Optional[Callable] = None) -> Any:
        mode = super().__new__(cls)
        mode._previous = []
        return mode(func) if callable(func) else mode   # also usable as a bare @decorator

    def __init__(self, func: Optional[Callable] = None) -> None:
        pass

    def __enter__(self) -> None:
        self._previous.append(_grad_enabled.get())
        _grad_enabled.set(self._enabled)

    def __exit__(self, *exc_info: Any) -> None:
        _grad_enabled.set(self._previous.pop())

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Nothing is recorded inside ``with mg.no_grad():`` (or a function decorated with it)."""

    _enabled = False


class enable_grad(_GradMode):
    """Turns recording back on inside a ``no_grad`` block."""

    _enabled = True


# -- Function: one node of the tape ------------------------------------------------------------
class Function:
    """One differentiable operation: ``forward`` on ndarrays, ``backward`` on Tensors.

    Subclass it and call ``YourOp.apply(*inputs, **kwargs)``. ``apply`` makes one instance per
    call; the instance is the context that ``backward`` reads:

    - ``self.inputs``: the input Tensors (connected to the graph, so a backward written with
      Tensor ops is itself differentiable and gives higher-order gradients);
    - ``self.needs_input_grad``: one bool per input;
    - ``self.save_for_backward(*arrays)`` / ``self.saved_tensors``: intermediates of forward;
    - ``self.output``: the output Tensor (``self.outputs`` for several).

    ``forward(*arrays, **kwargs)`` returns an ndarray or a tuple of them. ``backward(*grads)``
    receives one gradient Tensor per output and returns one gradient per input (a Tensor, an
    ndarray or None), each of the input's shape or broadcastable to it: the engine sums
    broadcast gradients back to the input's shape in one place.

    A Function whose backward uses raw saved arrays cannot be differentiated twice; set the class
    attribute ``once_differentiable = True`` and a second-order backward through it raises
    instead of returning a wrong number.

    Optionally, ``backward_arrays(*grad_arrays)`` is the same rule on ndarrays, returning new
    arrays (or None): a plain backward, which builds no graph, calls it instead of ``backward``
    and so skips wrapping every intermediate in a Tensor. The Tensor rule stays the reference
    (it is what ``create_graph``, anomaly mode and observers run); a test checks they agree.
    """

    # The structure of the graph lives in slots and survives backward; what forward keeps on
    # the instance (saved arrays, masks) lives in its __dict__, which backward frees.
    # Few objects per node, since Python's cyclic collector walks every live one: one weak
    # reference for a single output (a tuple of them only for several).
    __slots__ = ("inputs", "needs_input_grad", "_seq", "_writes", "_outs", "_output_meta",
                 "_kept_inputs", "__dict__", "__weakref__")
    once_differentiable = False
    backward_arrays: Optional[Callable[..., Any]] = None    # the optional rule on ndarrays

    def forward(self, *arrays: np.ndarray, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(*arrays)")

    def backward(self, *grad_outputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement backward(*grads)")

    # -- context helpers --------------------------------------------------------------------
    def save_for_backward(self, *arrays: Any) -> None:
        """Keep intermediates of forward for backward (freed with the graph)."""
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple:
        """What ``save_for_backward`` stored, in the same order."""
        saved = getattr(self, "_saved", None)
        if saved is None:
            raise RuntimeError(f"{type(self).__name__}: saved tensors were freed by an earlier "
                               "backward, or never saved; pass retain_graph=True to backward "
                               "to keep them")
        return saved

    @property
    def outputs(self) -> tuple:
        """The output Tensors (None for an output that no longer exists)."""
        return tuple(ref() for ref in self._output_refs)

    @property
    def output(self) -> Any:
        """The single output Tensor."""
        outs = self._outs
        return outs() if type(outs) is not tuple else outs[0]()

    @property
    def _output_refs(self) -> tuple:
        """Weak references to the outputs, one per output."""
        outs = self._outs
        return outs if type(outs) is tuple else (outs,)

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name}>"

    # -- recording ---------------------------------------------------------------------------
    @classmethod
    def apply(cls, *inputs: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on the inputs' arrays and, in grad mode, record the node."""
        fn = cls()
        arrays = []
        needs = []
        for x in inputs:
            if not isinstance(x, Tensor):                # a number or an ndarray among them
                inputs = _as_tensors(inputs, cls.__name__)
                arrays = [t.data for t in inputs]
                needs = [t._requires_grad for t in inputs]
                break
            arrays.append(x.data)
            needs.append(x._requires_grad)
        fn.inputs = inputs
        fn.needs_input_grad = needs = tuple(needs)
        try:
            raw = fn.forward(*arrays, **kwargs)
        except (ValueError, IndexError, TypeError) as error:
            raise _explain(fn, inputs, error) from None
        if anomaly.enabled:
            anomaly.check_forward(fn, inputs, raw)
        record = _grad_enabled.get() and True in needs
        if type(raw) is tuple:
            return fn._record_outputs(raw, record)
        out = _wrap_output(raw, fn, record)
        if record:
            fn._seq = next(_sequence)
            fn._writes = inplace.write_count    # writes after this one are caught in backward
            fn._outs = weakref.ref(out)
        return out

    def _record_outputs(self, raw: tuple, record: bool) -> tuple:
        """``apply`` for a forward that returned several arrays."""
        outs = tuple(_wrap_output(r, self, record) for r in raw)
        if record:
            self._seq = next(_sequence)
            self._writes = inplace.write_count
            self._outs = tuple(weakref.ref(o) for o in outs)
            self._output_meta = tuple((o.shape, o.dtype) for o in outs)
        return outs

    def replace_output(self, old: Any, new: Any) -> None:
        """Make ``new`` this node's output in place of ``old`` (an in-place op moves a tensor
        to another place in the graph)."""
        refs = tuple(weakref.ref(new) if ref() is old else ref for ref in self._output_refs)
        self._outs = refs if type(self._outs) is tuple else refs[0]

    def mark_recorded_after_writes(self) -> None:
        """Count every in-place write so far as older than this node (an in-place op's own
        write to its output must not look like a later modification)."""
        self._writes = inplace.write_count

    def free_saved(self) -> None:
        """What backward does to a node it ran (without ``retain_graph``): free the saved
        arrays and everything forward kept, and keep the structure (op, sequence number,
        outputs, and of each input the leaf itself or, for a tensor made by an op, that op, the
        output's index, shape and dtype), so the graph can still be drawn but holds no
        intermediate array. ``inputs`` becomes None: a second backward through it raises.
        The structure is one flat list per node (a leaf, or an op followed by its output's
        index, shape and dtype): fewer objects for the cyclic collector to walk."""
        self.__dict__.clear()
        kept = []
        for t in self.inputs:
            made_by = t.grad_fn
            if made_by is None:
                kept.append(t)
            else:
                index = 0 if type(made_by._outs) is not tuple else _output_index(t)
                kept += made_by, index, t.data.shape, t.data.dtype
        self._kept_inputs = kept
        self.inputs = None

    @property
    def is_freed(self) -> bool:
        """Whether a backward freed this node's saved values (a second one would raise)."""
        return self.inputs is None

    @property
    def graph_inputs(self) -> tuple:
        """The inputs as the graph knows them: ``inputs``, or after backward freed the node the
        leaves and a ``FreedInput`` for each tensor made by an op."""
        if self.inputs is not None:
            return self.inputs
        kept, found, i = self._kept_inputs, [], 0
        while i < len(kept):
            if isinstance(kept[i], Tensor):
                found.append(kept[i])
                i += 1
            else:
                found.append(FreedInput(*kept[i:i + 4]))
                i += 4
        return tuple(found)


class FreedInput:
    """What a freed node remembers of an input made by another op: the op (``grad_fn``), which
    of its outputs (``index``), the shape and dtype; no array."""

    __slots__ = ("grad_fn", "index", "shape", "dtype")
    requires_grad = True
    grad = None

    def __init__(self, grad_fn: Function, index: int, shape: tuple, dtype: np.dtype) -> None:
        self.grad_fn, self.index, self.shape, self.dtype = grad_fn, index, shape, dtype


def _output_index(tensor: Any) -> int:
    """Which output of its node ``tensor`` is."""
    return next((i for i, r in enumerate(tensor.grad_fn._output_refs) if r() is tensor), 0)


def _explain(fn: Function, tensors: tuple, error: Exception) -> Exception:
    """Turn an error from inside NumPy into one that names the op, the shapes and dtypes."""
    message = str(error)
    if message.startswith(fn.name):
        return error
    described = ", ".join(f"{t.shape} {t.dtype}" for t in tensors)
    kind = TypeError if isinstance(error, TypeError) else ValueError
    return kind(f"{fn.name}: {message} (inputs: {described})")


def _wrap_output(array: Any, fn: Function, record: bool) -> Any:
    """An op's output array as a Tensor; recorded outputs point back at their node."""
    if type(array) is not np.ndarray:
        array = np.asarray(array)
    out = Tensor.__new__(Tensor)
    out.data = array
    out._grad = None
    out._hooks = None
    out._versions = None
    if array.base is not None or fn.inputs and array is fn.inputs[0].data:
        inplace.share_versions(out, fn.inputs)      # a view: one version counter with its base
    if record and array.dtype.kind == "f":
        out._requires_grad = True
        out.grad_fn = fn
    else:
        out._requires_grad = False
        out.grad_fn = None
    return out


def _tensor(array: Any) -> Any:
    """An array (a gradient, a converted input) as a Tensor outside the graph."""
    if type(array) is not np.ndarray:
        array = np.asarray(array)               # (an array rule may return a NumPy scalar)
    out = Tensor.__new__(Tensor)
    out.data = array
    out._grad = out._hooks = out._versions = out.grad_fn = None
    out._requires_grad = False
    return out


def _as_tensors(inputs: Sequence[Any], op: str = "") -> tuple:
    """Inputs as Tensors; a number (Python or NumPy) or a 0-d array beside a floating Tensor
    takes that Tensor's dtype, as in PyTorch: ``x32 / np.sqrt(2)`` stays float32."""
    try:
        return _convert(inputs)
    except (TypeError, ValueError) as error:    # None, ragged lists, complex or object data
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(f"{op}: bad input: {error}") from None


def _convert(inputs: Sequence[Any]) -> tuple:
    """The conversion behind ``_as_tensors``."""
    like = next((x.data for x in inputs if isinstance(x, Tensor)), None)
    converted = []
    for x in inputs:
        if isinstance(x, Tensor):
            converted.append(x)
        elif like is not None and _is_scalar(x):
            dtype = like.dtype if like.dtype.kind == "f" else np.result_type(like, x)
            converted.append(_tensor(np.array(x, dtype=dtype)))
        elif type(x) is np.ndarray and x.dtype.kind in "fiub":
            converted.append(_tensor(x))                      # e.g. a mask in a backward
        else:
            converted.append(Tensor(x))
    return tuple(converted)


def _is_scalar(x: Any) -> bool:
    """A Python number, a NumPy number or a 0-d numeric array."""
    if type(x) in (int, float, bool):
        return True
    return isinstance(x, (np.generic, np.ndarray)) and x.ndim == 0 and x.dtype.kind in "fiub"


# -- the backward engine ---------------------------------------------------------------------
_FREED = ("Trying to backward through the graph a second time: the saved values of {op} were "
          "freed by the first backward. Pass retain_graph=True to the first backward() if you "
          "need to call backward twice.")
_REBASED = ("{op}: its output was modified by an in-place operation during this backward (in a "
            "hook?) after its gradient had arrived; do the in-place update after backward()")


class Step:
    """What the engine does at each node: the one hook point of a backward.

    ``run_backward`` takes one Step when it starts and calls ``run(fn, pending)`` for each
    node, newest first: gather the gradients of the node's outputs from ``pending`` and call its
    rule, returning one gradient per input (or None to skip the node); at the end ``leaf`` says
    what to add into each leaf's ``.grad``. This plain Step is a first-order backward with
    nothing watching, with a short path for the usual node (one output). The extras subclass it
    and override ``gather`` or ``call`` (``minigrad/watch.py``, ``minigrad/gradients.py``).
    This Step runs only when the backward is not differentiated (grad mode is off), so the
    gradients waiting in ``pending`` are plain ndarrays (``holds``): the short path runs an
    op's ``backward_arrays`` when it has one and passes its arrays on as they are; a Tensor is
    made only for a Tensor rule, a hook and a leaf's ``.grad``. The extras keep Tensors.
    Tensor hooks and the in-place check are part of every Step: one attribute test and one
    integer comparison per node.
    """

    holds: type = np.ndarray                     # what ``pending`` holds in this backward

    def run(self, fn: Function, pending: dict) -> Optional[tuple]:
        """Gather the gradients of ``fn``'s outputs and call its rule."""
        out = fn._outs
        if type(out) is tuple or fn.inputs is None:
            return self.run_in_full(fn, pending)
        out = out()
        grad = pending.pop(out, None)
        if grad is None:                         # a hook rebased it in place meanwhile
            raise RuntimeError(_REBASED.format(op=fn.name))
        if out._hooks:
            grad = hooks.run(out, _tensor(grad)).data
        if fn._writes != inplace.write_count:    # (after the hooks: they may write too)
            inplace.check_unmodified(fn)
        if fn.backward_arrays is None:
            in_grads = fn.backward(_tensor(grad))
        else:                                    # no graph is built here: the array rule
            in_grads = fn.backward_arrays(grad)
        if type(in_grads) is not tuple or len(in_grads) != len(fn.inputs):
            in_grads = checked_count(fn, in_grads)
        return in_grads

    def run_in_full(self, fn: Function, pending: dict) -> Optional[tuple]:
        """``run`` for any node: ``gather``, then ``call``."""
        outputs, grads = self.gather(fn, pending)   # outputs stay alive while the rule runs:
        return None if grads is None else self.call(fn, grads)   # it may read them

    def gather(self, fn: Function, pending: dict) -> Tuple[tuple, Optional[list]]:
        """``fn``'s outputs and their gradients, taken from ``pending`` and passed through the
        tensors' hooks; zeros for an output that received none. The gradients are None when
        the node has nothing to do (a node with several outputs comes once per output)."""
        outputs = fn.outputs
        found = [pending.pop(out, None) for out in outputs]     # (None is never a key)
        if len(outputs) == 1 and found[0] is None:
            raise RuntimeError(_REBASED.format(op=fn.name))
        if all(grad is None for grad in found):
            return outputs, None
        if fn.inputs is None:
            raise RuntimeError(_FREED.format(op=fn.name))
        grads = []
        for index, (out, grad) in enumerate(zip(outputs, found)):
            if grad is None:
                shape, dtype = fn._output_meta[index]
                grad = np.zeros(shape, dtype=dtype)
            elif out._hooks:
                grad = hooks.run(out, grad if type(grad) is Tensor else _tensor(grad))
            grads.append(grad if type(grad) is Tensor else _tensor(grad))
        return outputs, grads

    def call(self, fn: Function, grads: list) -> tuple:
        """Check that no input or output changed since forward, then run ``fn.backward``."""
        inplace.check_unmodified(fn)
        return checked_count(fn, fn.backward(*grads))

    def leaf(self, tensor: Any, grad: Any) -> Any:
        """The gradient to add into a leaf's ``.grad`` (None: add nothing)."""
        return hooks.run(tensor, grad) if tensor._hooks else grad


def run_backward(roots: Sequence[Any], root_grads: Sequence[Any], *, retain_graph: bool = False,
                 create_graph: bool = False, step: Optional[Step] = None) -> None:
    """Propagate ``root_grads`` from ``roots`` to every tensor that requires grad.

    Nodes run newest first; each leaf's total gradient is added into its ``.grad``. ``step``
    (default: the plain one, or ``watch.Watched`` when something watches) is the hook point.
    """
    step = step or (watch.Watched(create_graph) if watch.watching(create_graph) else _PLAIN)
    kind = step.holds    # ndarray or Tensor: what the gradients in ``pending`` are
    pending: dict = {}   # tensor -> the sum of the gradients that reached it so far
    queue: list = []     # heap of (-seq, node): the newest node comes out first
    leaves: list = []    # tensors without a node that received a gradient
    mode = _grad_enabled.set(create_graph)   # rules record only when backward is differentiated
    try:
        _send(roots, root_grads, "backward", pending, queue, leaves, kind)
        while queue:
            fn = heapq.heappop(queue)[1]         # the newest node with gradients waiting
            in_grads = step.run(fn, pending)     # gather its outputs' gradients, call its rule
            if in_grads is not None:             # (None: nothing to do, or mg.grad skips it)
                _send(fn.inputs, in_grads, fn, pending, queue, leaves, kind)
                if not retain_graph:
                    fn.free_saved()
        _accumulate(leaves, pending, root_grads, step)
    finally:
        _grad_enabled.reset(mode)


def _send(tensors: Sequence[Any], grads: Sequence[Any], source: Any, pending: dict,
          queue: list, leaves: list, kind: type) -> None:
    """Add each gradient to the one waiting at its tensor; at a tensor's first gradient, queue
    the node that made it (or note the leaf). ``source`` names who computed the gradients;
    ``kind`` (ndarray or Tensor) is what ``pending`` holds."""
    for tensor, grad in zip(tensors, grads):
        if grad is None or not tensor._requires_grad:
            continue
        if type(grad) is not kind or grad.shape != tensor.data.shape or \
                grad.dtype is not tensor.data.dtype:
            grad = sum_and_cast(grad, tensor, source)
            if kind is not Tensor:
                grad = grad.data
        total = pending.get(tensor)
        if total is not None:
            pending[tensor] = total + grad
            continue
        pending[tensor] = grad
        node = tensor.grad_fn
        if node is None:
            leaves.append(tensor)
        else:                                # a node with several outputs may come twice;
            heapq.heappush(queue, (-node._seq, node))   # its gather skips the second time


def _accumulate(leaves: list, pending: dict, root_grads: Sequence[Any], step: Step) -> None:
    """Add each leaf's total gradient into its ``.grad``."""
    given = {id(g.data) for g in root_grads}     # gradient arrays someone else holds already
    for leaf in leaves:
        grad = pending.pop(leaf, None)
        if grad is None:                     # taken already: a node still lists it as an output
            continue
        grad = step.leaf(leaf, grad if type(grad) is Tensor else _tensor(grad))
        if grad is None:
            continue
        if leaf._grad is not None:
            leaf._grad = leaf._grad + grad
            continue
        if id(grad.data) in given:           # a + b gives both leaves one array: copy it, so
            grad = grad * 1                  # an in-place update of a.grad leaves b.grad alone
        given.add(id(grad.data))
        leaf._grad = grad


def sum_and_cast(value: Any, like: Any, source: Any) -> Any:
    """A gradient returned by ``source`` (a node or a hook) as a Tensor of ``like``'s shape and
    dtype: broadcast gradients are summed back here, in one place for every op."""
    if not isinstance(value, Tensor):
        value = Tensor(np.asarray(value))
    if value.data.shape != like.data.shape:
        from .functional.shape import sum_to
        try:
            value = sum_to(value, like.shape)
        except ValueError:
            raise RuntimeError(f"{source!r} returned a gradient of shape {value.shape} for an "
                               f"input of shape {like.shape}") from None
    if value.data.dtype != like.data.dtype:
        value = value.astype(like.dtype)
    return value


def checked_count(fn: Function, result: Any) -> tuple:
    """What ``fn.backward`` returned as a tuple of one gradient per input."""
    if type(result) is not tuple:
        result = (result,)                   # a one-input op may return its gradient alone
    if len(result) != len(fn.inputs):
        raise RuntimeError(f"{fn.name}.backward returned {len(result)} gradients for "
                           f"{len(fn.inputs)} inputs")
    return result


_PLAIN = Step()


def backward(tensor: Any, gradient: Any = None, retain_graph: bool = False,
             create_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) (times ``gradient``) into every leaf's ``.grad``."""
    seeds = gradients.seed_gradients([tensor], None if gradient is None else [gradient])
    run_backward([tensor], seeds, retain_graph=retain_graph or create_graph,
                 create_graph=create_graph)


from .tensor import Tensor  # noqa: E402  (tensor.py imports this module first)
from . import anomaly, hooks, inplace, watch  # noqa: E402,F401  (they use this module)
from . import gradients  # noqa: E402  (where a backward starts, and mg.grad)
from .gradients import grad  # noqa: E402,F401  (mg.grad: gradients without touching .grad)
from .inplace import next_write  # noqa: E402,F401  (kept here too: its old home)
from .observe import observe_backward  # noqa: E402,F401  (see each node's raw gradients)
