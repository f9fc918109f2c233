"""Where a backward starts (``seed_gradients``) and ``mg.grad``: gradients of outputs with
respect to chosen inputs, without touching ``.grad``.

``mg.grad`` runs the engine with a ``Capturing`` step: the total gradient of each chosen input
is kept (after its hooks) instead of being added into ``.grad``, and only the nodes on a path
from the outputs down to a chosen input run, as in PyTorch's engine: the rest of the graph is
neither run nor freed, and the hooks below it do not fire.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import autograd
from .tensor import Tensor
from .watch import Watched


def _one(out: Any) -> Any:
    """The gradient of a one-element output with respect to itself: 1 in its shape and dtype
    (np.array is several times faster than np.ones for one element)."""
    one = np.array(1, out.data.dtype)
    return Tensor(one if out.data.ndim == 0 else one.reshape(out.data.shape))


def seed_gradients(outputs: Sequence[Any], grad_outputs: Optional[Sequence[Any]]) -> list:
    """The gradients a backward starts from, one per output (1 for a one-element output given
    none), after checking the outputs and the given gradients."""
    if grad_outputs is None and len(outputs) == 1:   # the usual case, a scalar loss, at once
        out = outputs[0]
        if type(out) is Tensor and out._requires_grad and out.data.size == 1:
            return [_one(out)]
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad_outputs has {len(grad_outputs)} entries for {len(outputs)} "
                         "outputs")
    return [_seed(out, grad) for out, grad in zip(outputs, grad_outputs)]


def _seed(out: Any, grad: Any) -> Any:
    """One output's starting gradient: ``grad`` checked against it, or 1 when None."""
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
        return _one(out)
    if not isinstance(grad, Tensor):
        try:
            grad = Tensor(grad)
        except (TypeError, ValueError) as error:
            kind = TypeError if isinstance(error, TypeError) else ValueError
            raise kind(f"backward: bad gradient: {error}") from None
    if grad.shape != out.shape:
        raise ValueError(f"backward: gradient has shape {grad.shape} but the output "
                         f"has shape {out.shape}; they must be equal")
    return grad if grad.dtype == out.dtype else grad.astype(out.dtype)


class Capturing(Watched):
    """``Watched`` that keeps the gradients of ``inputs`` and skips nodes none of them is
    below."""

    def __init__(self, roots: Sequence[Tensor], inputs: Sequence[Tensor],
                 create_graph: bool) -> None:
        super().__init__(create_graph)
        self.targets = {id(t) for t in inputs}
        self.captured: dict = {}
        self.on_path = _nodes_on_paths(roots, self.targets)

    def gather(self, fn: autograd.Function, pending: dict) -> Tuple[tuple, Optional[list]]:
        outputs, grads = super().gather(fn, pending)
        for out, grad in zip(outputs, grads or ()):
            if id(out) in self.targets:
                self.captured[id(out)] = grad
        return outputs, grads if fn._seq in self.on_path else None

    def leaf(self, tensor: Tensor, grad: Any) -> None:
        grad = super().leaf(tensor, grad)
        if id(tensor) in self.targets:
            self.captured[id(tensor)] = grad
        return None                              # nothing is added into .grad


def _nodes_on_paths(roots: Sequence[Tensor], targets: set) -> set:
    """The sequence numbers of the nodes below ``roots`` with a tensor in ``targets`` (ids)
    among their inputs or further down: the nodes a gradient for ``targets`` must go through.
    A node freed by an earlier backward counts as one, and so does a node whose input became
    the output of a later in-place op (its input was modified): running them raises, instead
    of quietly giving no gradient."""
    found: dict = {}
    stack = [t.grad_fn for t in roots if t.grad_fn is not None]
    while stack:                                   # every node below the roots, once
        fn = stack.pop()
        if fn._seq in found:
            continue
        found[fn._seq] = fn
        if not fn.is_freed:
            stack.extend(t.grad_fn for t in fn.inputs if t.grad_fn is not None)
    on_path: set = set()
    for seq in sorted(found):                      # inputs come before outputs
        fn = found[seq]
        if fn.is_freed or any(id(t) in targets or (t.grad_fn is not None and (
                t.grad_fn._seq in on_path or t.grad_fn._seq >= seq)) for t in fn.inputs):
            on_path.add(seq)
    return on_path


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
    seeds = seed_gradients(outputs, grad_outputs)
    step = Capturing(outputs, inputs, create_graph)
    autograd.run_backward(outputs, seeds, retain_graph=retain_graph, create_graph=create_graph,
                          step=step)
    result = []
    for i, x in enumerate(inputs):
        g = step.captured.get(id(x))
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {x.shape}) was not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
        result.append(g)
    return tuple(result)
