"""Grad mode, ``Function`` (one node of the tape) and the backward engine.

The tape is implicit: every recorded ``Function`` gets a sequence number from a global counter.
An op's inputs always exist before its outputs, so visiting the reachable nodes in *descending*
sequence order is a valid reverse topological order. The engine keeps a heap of nodes to visit
and a dict of gradients waiting for them: no recursion, so a 100,000-op chain is fine.
"""
from __future__ import annotations

import functools
import heapq
import itertools
import weakref
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import numpy as np

# Module-level state, all of it switched by context managers and restored on exit:
_grad_enabled = True           # grad mode (no_grad / enable_grad)
_sequence = itertools.count()  # stamps recorded nodes in creation order
_tracers: list = []            # callbacks of active mg.trace_backward() blocks (viz.py)
_anomaly_enabled = False       # set by mg.detect_anomaly() (anomaly.py)
_writes = 0                    # in-place writes to tensors so far (see next_write)


def next_write() -> int:
    """Count one more in-place write and return the count: setting ``tensor._version`` stamps
    the tensor with it, so a node recorded before the write can tell."""
    global _writes
    _writes += 1
    return _writes


class observe_backward:
    """Context manager: ``callback(fn, grad_outputs, grad_inputs)`` is called after each node's
    ``backward`` in this block, with exactly what the rule returned (before the engine sums a
    broadcast gradient back to its input's shape or casts its dtype). Used by
    ``viz.trace_backward`` and by the gradient checkers to see a layer's raw gradients."""

    def __init__(self, callback: Callable[[Any, Any, Any], None]) -> None:
        self.callback = callback

    def __enter__(self) -> "observe_backward":
        _tracers.append(self.callback)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        _tracers.remove(self.callback)


def is_grad_enabled() -> bool:
    """Whether ops are currently recorded on the tape."""
    return _grad_enabled


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
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = self._enabled

    def __exit__(self, *exc_info: Any) -> None:
        global _grad_enabled
        _grad_enabled = self._previous.pop()

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


def _set_grad_enabled(mode: bool) -> _GradMode:
    return enable_grad() if mode else no_grad()


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
    """

    once_differentiable = False

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
        return self._output_refs[0]()

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
        if _anomaly_enabled:
            anomaly.check_forward(fn, inputs, raw)
        record = _grad_enabled and True in needs
        if type(raw) is tuple:
            return fn._record_outputs(raw, record)
        out = _wrap_output(raw, fn, record)
        if record:
            fn._seq = next(_sequence)
            fn._writes = _writes               # in-place writes after this are caught in backward
            fn._output_refs = (weakref.ref(out),)
        return out

    def _record_outputs(self, raw: tuple, record: bool) -> tuple:
        """``apply`` for a forward that returned several arrays."""
        outs = tuple(_wrap_output(r, self, record) for r in raw)
        if record:
            self._seq = next(_sequence)
            self._writes = _writes
            self._output_refs = tuple(weakref.ref(o) for o in outs)
            self._output_meta = tuple((o.shape, o.dtype) for o in outs)
        return outs

    def _release(self) -> None:
        """Free everything the node holds (inputs, saved arrays, attributes set in forward)."""
        seq = self._seq
        self.__dict__.clear()
        self._seq = seq
        self.inputs = None


def times_constant(grad: Any, factor: np.ndarray) -> Any:
    """``grad ⊙ factor`` for a constant array ``factor`` (a mask, a slope), in a backward.

    Recorded as an op when the backward itself is being differentiated (``create_graph``), so
    second-order gradients flow through it; otherwise one NumPy multiplication, no node.
    """
    if _grad_enabled:
        return grad * factor
    return Tensor(grad.data * factor)


def _explain(fn: Function, tensors: tuple, error: Exception) -> Exception:
    """Turn an error from inside NumPy into one that names the op, the shapes and dtypes."""
    message = str(error)
    if message.startswith(fn.name):
        return error
    described = ", ".join(f"{t.shape} {t.dtype}" for t in tensors)
    kind = TypeError if isinstance(error, TypeError) else ValueError
    return kind(f"{fn.name}: {message} (inputs: {described})")


def _wrap_output(array: Any, fn: Function, record: bool) -> Any:
    if type(array) is not np.ndarray:
        array = np.asarray(array)
    out = Tensor.__new__(Tensor)
    out.data = array
    out._grad = None
    out._hooks = None
    out._version_count = 0
    out._written = 0
    if record and array.dtype.kind == "f":
        out._requires_grad = True
        out.grad_fn = fn
    else:
        out._requires_grad = False
        out.grad_fn = None
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
    like = None
    for x in inputs:
        if isinstance(x, Tensor):
            like = x.data
            break
    converted = []
    for x in inputs:
        if isinstance(x, Tensor):
            converted.append(x)
        elif like is not None and _is_scalar(x):
            dtype = like.dtype if like.dtype.kind == "f" else np.result_type(like, x)
            converted.append(_wrap_output(np.array(x, dtype=dtype), None, False))
        elif type(x) is np.ndarray and x.dtype.kind in "fiub":
            converted.append(_wrap_output(x, None, False))   # e.g. a mask in a backward
        else:
            converted.append(Tensor(x))
    return tuple(converted)


def _is_scalar(x: Any) -> bool:
    """A Python number, a NumPy number or a 0-d numeric array."""
    if type(x) in (int, float, bool):
        return True
    return isinstance(x, (np.generic, np.ndarray)) and x.ndim == 0 and x.dtype.kind in "fiub"


# -- the backward engine ---------------------------------------------------------------------
def _as_grad(value: Any, like: Any, source: Any) -> Any:
    """A gradient returned by ``source`` (a node or a hook) as a Tensor of ``like``'s shape and
    dtype: broadcast gradients are summed back here, in one place for every op."""
    from .functional.shape import sum_to
    if not isinstance(value, Tensor):
        value = Tensor(np.asarray(value))
    if value.shape != like.shape:
        try:
            value = sum_to(value, like.shape)
        except ValueError:
            raise RuntimeError(f"{source!r} returned a gradient of shape {value.shape} for an "
                               f"input of shape {like.shape}") from None
    if value.dtype != like.dtype:
        value = value.astype(like.dtype)
    return value


def _run_hooks(tensor: Any, grad: Any) -> Any:
    """Call the tensor's hooks with its total gradient; a hook may return a replacement."""
    for hook in list(tensor._hooks.values()):
        replaced = hook(grad)
        if replaced is not None:
            if np.shape(replaced) != tensor.shape:     # never silently sum a wrong shape away
                raise ValueError(f"hook {hook!r} returned a gradient of shape "
                                 f"{np.shape(replaced)} for a tensor of shape {tensor.shape}")
            grad = _as_grad(replaced, tensor, hook)
    return grad


_FREED = ("Trying to backward through the graph a second time: the saved values of {op} were "
          "freed by the first backward. Pass retain_graph=True to the first backward() if you "
          "need to call backward twice.")


_REBASED = ("{op}: its output was modified by an in-place operation during this backward (in a "
            "hook?) after its gradient had arrived; do the in-place update after backward()")


def _check_alive(fn: Function) -> None:
    if fn.inputs is None:
        raise RuntimeError(_FREED.format(op=fn.name))


def run_backward(roots: Sequence[Any], root_grads: Sequence[Any], *, retain_graph: bool,
                 create_graph: bool, accumulate: bool = True,
                 capture: Optional[Sequence[Any]] = None) -> dict:
    """Propagate ``root_grads`` from ``roots`` to every tensor that requires grad.

    With ``accumulate`` the leaves' total gradients are added into their ``.grad``. Tensors in
    ``capture`` have their total gradient returned in a dict keyed by ``id``.
    """
    global _grad_enabled
    captured: dict = {}
    wanted = {id(t) for t in capture} if capture else ()
    pending: dict = {}   # tensor -> its gradient so far (tensors hash by identity)
    heap: list = []      # (-seq, node): the most recent node first
    queued: set = set()  # seq of the nodes in the heap or already run
    leaves: list = []
    push, pop = heapq.heappush, heapq.heappop
    # mg.grad runs only the nodes with a captured tensor below them (as PyTorch's engine does):
    # the rest of the graph is neither run nor freed, and its hooks do not fire
    needed = None if accumulate else _nodes_above(roots, wanted)
    # the common case, first order with nothing watching, takes the short path through a node
    plain = needed is None and not (wanted or create_graph or _anomaly_enabled or _tracers)
    grad_mode, _grad_enabled = _grad_enabled, create_graph   # rules record only for create_graph
    try:
        fn = None                                    # the roots' gradients come first
        tensors, grads = roots, root_grads
        while True:
            # where each gradient arrives: add it to the one waiting for its tensor; at the
            # tensor's first gradient, queue the node that made it (or note the leaf)
            for tensor, grad in zip(tensors, grads):
                if grad is None or not tensor._requires_grad:
                    continue
                if type(grad) is not Tensor or grad.data.shape != tensor.data.shape or \
                        grad.data.dtype is not tensor.data.dtype:
                    grad = _as_grad(grad, tensor, "backward" if fn is None else fn)
                total = pending.get(tensor)
                if total is not None:
                    pending[tensor] = total + grad
                    continue
                pending[tensor] = grad
                node = tensor.grad_fn
                if node is None:
                    leaves.append(tensor)
                elif node._seq not in queued:        # a node with several outputs: queued once
                    queued.add(node._seq)
                    push(heap, (-node._seq, node))
            if fn is not None and not retain_graph:
                fn._release()
            if not heap:
                break
            fn = pop(heap)[1]
            if fn.inputs is None:
                _check_alive(fn)                     # raises: freed by an earlier backward
            refs = fn._output_refs
            if plain and len(refs) == 1:             # one output, so it has a gradient waiting
                out = refs[0]()
                grad = pending.pop(out, None)
                if grad is None:                     # a hook rebased it in place meanwhile
                    raise RuntimeError(_REBASED.format(op=fn.name))
                if out._hooks:
                    grad = _run_hooks(out, grad)
                if fn._writes != _writes and _written_since(fn):   # (after the hooks: they
                    raise anomaly.modified_error(fn)    # may write too) an input was modified
                in_grads = fn.backward(grad)
                if type(in_grads) is not tuple:
                    in_grads = (in_grads,)           # a one-input op may return its gradient
                if len(in_grads) != len(fn.inputs):
                    in_grads = _checked_count(fn, in_grads)   # raises
            else:
                outs = fn.outputs                    # alive while the rule runs: it may read them
                grads = _output_grads(fn, outs, pending, wanted, captured)
                if needed is not None and fn._seq not in needed:
                    fn, tensors = None, ()           # nothing asked for lies below this node
                    continue
                if fn._writes != _writes and _written_since(fn):
                    raise anomaly.modified_error(fn)
                in_grads = _traced_backward(fn, grads, create_graph)
            tensors, grads = fn.inputs, in_grads

        held = {id(g) for g in root_grads}   # gradient Tensors someone else already holds
        for leaf in leaves:
            grad = pending.pop(leaf, None)
            if grad is None:         # taken already: a node still lists it as an output
                continue
            if leaf._hooks:
                grad = _run_hooks(leaf, grad)
            if wanted and id(leaf) in wanted:
                captured[id(leaf)] = grad
            if accumulate:
                if leaf._grad is not None:
                    leaf._grad = leaf._grad + grad
                    continue
                key = id(grad)
                if key in held:              # a + b gives both leaves one Tensor: copy it, so
                    grad = grad * 1          # an in-place update of a.grad leaves b.grad alone
                held.add(key)
                leaf._grad = grad
    finally:
        _grad_enabled = grad_mode
    return captured


def _output_grads(fn: Function, outputs: tuple, pending: dict, wanted: Any,
                  captured: dict) -> list:
    """The gradients of ``fn``'s outputs after their hooks (zeros for an output that received
    none); those of tensors in ``wanted`` are also kept in ``captured``."""
    grads = []
    for out in outputs:
        grad = pending.pop(out, None)        # (None is never a key)
        if grad is None:
            grads.append(_zero_grad(fn, len(grads)))
            continue
        if out._hooks:
            grad = _run_hooks(out, grad)
        if wanted and id(out) in wanted:
            captured[id(out)] = grad
        grads.append(grad)
    return grads


def _traced_backward(fn: Function, grads: Sequence[Any], create_graph: bool) -> tuple:
    """``fn.backward`` under anomaly detection, ``create_graph`` or ``mg.trace_backward``."""
    if _anomaly_enabled:
        in_grads = anomaly.checked_backward(fn, grads, create_graph)
    else:
        in_grads = _call_backward(fn, grads, create_graph)
    for tracer in _tracers:
        tracer(fn, grads, in_grads)
    return in_grads


def _nodes_above(roots: Sequence[Any], wanted: Any) -> set:
    """The sequence numbers of the nodes below ``roots`` with a tensor in ``wanted`` (ids)
    among their inputs or further down: the nodes a gradient for ``wanted`` must go through.
    A node freed by an earlier backward counts as one (what is below it is unknown), and so
    does a node whose input became the output of a later in-place op (its input was modified):
    running them raises, instead of quietly giving no gradient."""
    found: dict = {}
    stack = [t.grad_fn for t in roots if t.grad_fn is not None]
    while stack:                                   # every node below the roots, once
        fn = stack.pop()
        if fn._seq in found:
            continue
        found[fn._seq] = fn
        if fn.inputs is not None:
            stack.extend(t.grad_fn for t in fn.inputs if t.grad_fn is not None)
    above: set = set()
    for seq in sorted(found):                      # inputs come before outputs
        inputs = found[seq].inputs
        if inputs is None or any(id(t) in wanted or (t.grad_fn is not None and (
                t.grad_fn._seq in above or t.grad_fn._seq >= seq)) for t in inputs):
            above.add(seq)
    return above


def _written_since(fn: Function) -> bool:
    """Whether an input or output of ``fn`` was written in place after ``fn`` was recorded."""
    for tensor in fn.inputs + fn.outputs:
        if tensor is not None and tensor._written > fn._writes:
            return True
    return False


def _zero_grad(fn: Function, index: int) -> Any:
    """The gradient of an output that received none: zeros (only multi-output ops need it)."""
    shape, dtype = fn._output_meta[index]
    return Tensor(np.zeros(shape, dtype=dtype))


def _call_backward(fn: Function, grads: list, create_graph: bool) -> tuple:
    """Call ``fn.backward`` and return one gradient per input."""
    if create_graph and fn.once_differentiable:
        with no_grad():
            result = fn.backward(*grads)
        result = _mark_once_differentiable(fn, result)
    else:
        result = fn.backward(*grads)
    return _checked_count(fn, result)


def _checked_count(fn: Function, result: Any) -> tuple:
    """What ``fn.backward`` returned as a tuple of one gradient per input."""
    if type(result) is not tuple:
        result = (result,)
    if len(result) != len(fn.inputs):
        raise RuntimeError(f"{fn.name}.backward returned {len(result)} gradients for "
                           f"{len(fn.inputs)} inputs")
    return result


class _OnceDifferentiable(Function):
    """Stands in for the backward of a ``once_differentiable`` op; differentiating it raises."""

    def forward(self, *arrays: np.ndarray, count: int = 1, op: str = "") -> Any:
        self.op = op
        return arrays[:count] if count > 1 else arrays[0]   # the gradients, passed through

    def backward(self, *grads: Any) -> Any:
        raise RuntimeError(f"{self.op} is once_differentiable: its backward is not itself "
                           "differentiable, so no second-order gradient through it exists here")


def _mark_once_differentiable(fn: Function, result: Any) -> Any:
    """Connect gradients computed without a graph to one that raises when differentiated."""
    results = result if type(result) is tuple else (result,)
    present = [i for i, g in enumerate(results) if g is not None]
    if not present:
        return result
    marked = _OnceDifferentiable.apply(*[results[i] for i in present], *fn.inputs,
                                       count=len(present), op=fn.name)
    if type(marked) is not tuple:
        marked = (marked,)
    out = list(results)
    for i, g in zip(present, marked):
        out[i] = g
    return tuple(out)


def _seed(out: Any) -> Any:
    """The gradient of a one-element output with respect to itself: 1 in its shape and dtype
    (np.array is several times faster than np.ones for one element)."""
    one = np.array(1, out.data.dtype)
    return Tensor(one if out.data.ndim == 0 else one.reshape(out.data.shape))


def _check_roots(outputs: Sequence[Any], grad_outputs: Optional[Sequence[Any]]) -> list:
    """Validate the roots of a backward and make their initial gradients."""
    if grad_outputs is None and len(outputs) == 1:   # the usual case, a scalar loss, at once
        out = outputs[0]
        if type(out) is Tensor and out._requires_grad and out.data.size == 1:
            return [_seed(out)]
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad_outputs has {len(grad_outputs)} entries for {len(outputs)} "
                         "outputs")
    grads = []
    for out, grad in zip(outputs, grad_outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"backward: expected a Tensor, got {type(out).__name__}")
        if not out._requires_grad:
            raise RuntimeError("backward: the tensor does not require grad and has no grad_fn "
                               "(was it computed under no_grad, or from inputs that do not "
                               "require grad?)")
        if grad is None:
            if out.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for scalar "
                                   f"outputs; this output has shape {out.shape}, so pass "
                                   f"gradient= an array of that shape")
            grad = _seed(out)
        else:
            if not isinstance(grad, Tensor):
                try:
                    grad = Tensor(grad)
                except (TypeError, ValueError) as error:
                    kind = TypeError if isinstance(error, TypeError) else ValueError
                    raise kind(f"backward: bad gradient: {error}") from None
            if grad.shape != out.shape:
                raise ValueError(f"backward: gradient has shape {grad.shape} but the output "
                                 f"has shape {out.shape}; they must be equal")
            if grad.dtype != out.dtype:
                grad = grad.astype(out.dtype)
        grads.append(grad)
    return grads


def backward(tensor: Any, gradient: Any = None, retain_graph: bool = False,
             create_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) (times ``gradient``) into every leaf's ``.grad``."""
    grads = _check_roots([tensor], None if gradient is None else [gradient])
    run_backward([tensor], grads, retain_graph=retain_graph or create_graph,
                 create_graph=create_graph)


def grad(outputs: Union[Any, Sequence[Any]], inputs: Union[Any, Sequence[Any]],
         grad_outputs: Union[Any, Sequence[Any], None] = None,
         retain_graph: Optional[bool] = None, create_graph: bool = False,
         allow_unused: bool = False) -> Tuple[Any, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    Returns a tuple with one entry per input: sum over outputs of (grad_output · d output /
    d input). With ``create_graph=True`` the results are differentiable (higher order).
    """
    for name, value in (("outputs", outputs), ("inputs", inputs)):
        if not isinstance(value, (Tensor, list, tuple)):
            raise TypeError(f"grad: {name} must be a Tensor or a sequence of Tensors, got "
                            f"{type(value).__name__}")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is not None and isinstance(grad_outputs, (Tensor, np.ndarray, int, float)):
        grad_outputs = [grad_outputs]
    for x in inputs:
        if not isinstance(x, Tensor) or not x._requires_grad:
            raise ValueError("grad: every input must be a Tensor that requires grad")
    if retain_graph is None:
        retain_graph = create_graph
    roots = _check_roots(outputs, grad_outputs)
    captured = run_backward(outputs, roots, retain_graph=retain_graph,
                            create_graph=create_graph, accumulate=False, capture=inputs)
    result = []
    for i, x in enumerate(inputs):
        g = captured.get(id(x))
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {x.shape}) was not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
        result.append(g)
    return tuple(result)


from .tensor import Tensor  # noqa: E402  (tensor.py imports this module first)
from . import anomaly  # noqa: E402  (anomaly.py uses this module's grad mode)
