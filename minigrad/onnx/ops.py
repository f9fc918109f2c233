"""How each minigrad op becomes ONNX nodes: one ``Mapping`` per ``Function`` class in
``MAPPINGS``.

A mapping has two parts:

- ``emit(g, fn, inputs, out)`` adds the ONNX node(s) that compute ``fn``'s output from the ONNX
  values named ``inputs`` (one per ``fn.inputs``) into the value named ``out``, through the graph
  builder ``g``: ``g.node(op_type, inputs, out, **attributes)``, ``g.constant(array, hint)``,
  ``g.cast(name, tensor, dtype)``, ``g.batch_axis(tensor)``, ``g.onnx_dtype(dtype)``.
  ``fn`` is the recorded op: its class, its attributes (``fn.axis``, ``fn.slope``...) and its
  input and output Tensors (shapes, dtypes) are all there is to read.
- ``batch(fn, axes)`` says which axis of the output is the batch axis, given that of each input
  (None: the input has no batch axis, e.g. a weight). It is only used with
  ``dynamic_batch=True``; the default, ``follows_first_input``, fits elementwise ops.

Adding an op is one ``emit`` function (often ``same("OnnxOp")``) and one line in ``MAPPINGS``.
Both parts raise ``NotExportable`` / ``BatchAxisError`` with a message naming the op; the
exporter adds where the op was created.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence

import numpy as np

from ..functional import arithmetic as _arithmetic
from ..functional import conv as _conv
from ..functional import elementwise as _elementwise
from ..functional import linear as _linear
from ..functional import normalization as _normalization
from ..functional import reduction as _reduction
from ..functional import regularization as _regularization
from ..functional import shape as _shape

Axes = Sequence[Optional[int]]


class ExportError(ValueError):
    """The model cannot be written faithfully as ONNX (an op without a mapping, an op in
    training mode, a batch axis that cannot stay dynamic, a forward that escapes the trace)."""


class NotExportable(Exception):
    """This op, as it was called, has no faithful ONNX form (e.g. dropout in training mode)."""


class BatchAxisError(Exception):
    """With ``dynamic_batch``, the graph would only be right for the traced batch size."""


# -- batch rules -----------------------------------------------------------------------------
def follows_first_input(fn: Any, axes: Axes) -> Optional[int]:
    """The output's batch axis is the first input's (elementwise ops); the other inputs (weights,
    constants) must not have one."""
    if any(axis is not None for axis in axes[1:]):
        raise BatchAxisError(f"{fn.name}: only its first input may have a batch axis")
    return axes[0]


def broadcast_batch(fn: Any, axes: Axes) -> Optional[int]:
    """Broadcasting: inputs align on their last axes; an input without a batch axis must have
    length 1 along it, or the result would hold for one batch size only."""
    out_ndim = fn.output.ndim
    positions = {axis + out_ndim - t.ndim for t, axis in zip(fn.inputs, axes) if axis is not None}
    if len(positions) > 1:
        raise BatchAxisError(f"{fn.name}: the batch axes of its inputs do not line up (input "
                             f"shapes {[t.shape for t in fn.inputs]})")
    if not positions:
        return None
    position = positions.pop()
    for t, axis in zip(fn.inputs, axes):
        own = position - (out_ndim - t.ndim)
        if axis is None and own >= 0 and t.shape[own] != 1:
            raise BatchAxisError(f"{fn.name}: an operand of shape {t.shape} not computed from "
                                 f"the input by recorded ops (a constant, or made with .data, "
                                 f"NumPy or a comparison) has {t.shape[own]} entries along the "
                                 f"batch axis, so the result holds for that batch size only")
    return position


def first_axis_batch(why: str) -> Callable[[Any, Axes], Optional[int]]:
    """A batch rule for ops whose batch axis must be axis 0 of their first input (a 1-D first
    input is one sample: its axis 0 holds features); ``why`` ends the message otherwise."""
    def batch(fn: Any, axes: Axes) -> Optional[int]:
        axis = follows_first_input(fn, axes)
        if axis not in (None, 0) or (axis == 0 and fn.inputs[0].ndim == 1):
            raise BatchAxisError(f"{fn.name}: the batch axis is axis {axis} of its input of "
                                 f"shape {fn.inputs[0].shape}, {why}")
        return axis
    return batch


#: Affine works on rows: the batch axis must be axis 0 of x (the others are flattened).
rows_batch = first_axis_batch("which it flattens into the features")
#: Convolution and pooling of (N, C, H, W): the batch axis must be axis 0.
image_batch = first_axis_batch("not axis 0 of (N, C, H, W)")


def matmul_batch(fn: Any, axes: Axes) -> Optional[int]:
    """a @ b with one operand holding the batch axis outside the summed-over axis, the other a
    vector or matrix (no broadcast batch dimensions of its own)."""
    (a, b), out_ndim = fn.inputs, fn.output.ndim
    if axes[0] is not None and axes[1] is not None:
        raise BatchAxisError(f"{fn.name}: both operands depend on the batch")
    if axes[0] is None and axes[1] is None:
        return None
    batched, other = (a, b) if axes[0] is not None else (b, a)
    axis = axes[0] if axes[0] is not None else axes[1]
    summed = a.ndim - 1 if batched is a else max(b.ndim - 2, 0)
    if axis == summed or other.ndim > 2:
        raise BatchAxisError(f"{fn.name}: cannot follow the batch axis (axis {axis} of the "
                             f"{'left' if batched is a else 'right'} operand) through shapes "
                             f"{a.shape} @ {b.shape}")
    if batched is b and axis == b.ndim - 1:
        return out_ndim - 1                                  # b's columns: the last axis
    lost = 1 if other.ndim == 1 else 0      # a vector operand: its axis is summed and gone
    return axis + out_ndim - batched.ndim + lost


def transpose_batch(fn: Any, axes: Axes) -> Optional[int]:
    """The batch axis moves where the permutation puts it."""
    return None if axes[0] is None else list(fn.axes).index(axes[0])


def reshape_batch(fn: Any, axes: Axes) -> Optional[int]:
    """A reshape keeps the batch axis if it stays one whole axis with the same values before and
    after it; merging or splitting it would fix the batch size."""
    axis = axes[0]
    if axis is None:
        return None
    before, after = fn.inputs[0].shape, fn.output.shape
    n, lead, trail = before[axis], math.prod(before[:axis]), math.prod(before[axis + 1:])
    found = [i for i, size in enumerate(after) if size == n and math.prod(after[:i]) == lead
             and math.prod(after[i + 1:]) == trail]
    if not found:
        raise BatchAxisError(f"{fn.name}: from {before} to {after} merges or splits the batch "
                             f"axis (axis {axis}, {n} entries)")
    if len(found) > 1:
        raise BatchAxisError(f"{fn.name}: from {before} to {after}, the batch axis could become "
                             f"any of axes {found}; trace with a batch of at least 2")
    return found[0]


def channels_batch(fn: Any, axes: Axes) -> Optional[int]:
    """Per-channel ops (axis 1): the batch axis must not be the channel axis."""
    axis = follows_first_input(fn, axes)
    if axis == 1:
        raise BatchAxisError(f"{fn.name}: the batch axis is its channel axis 1")
    return axis


# -- emitters --------------------------------------------------------------------------------
Emit = Callable[[Any, Any, List[str], str], None]


def same(op_type: str) -> Emit:
    """The ONNX op of the same meaning, inputs as they are, no attributes."""
    def emit(g: Any, fn: Any, inputs: List[str], out: str) -> None:
        g.node(op_type, inputs, out)
    return emit


def elementwise(op_type: str) -> Emit:
    """A broadcasting binary op; an operand of another dtype than the result (NumPy promotes,
    e.g. float32 + a float64 array) is cast to it first, as NumPy does."""
    def emit(g: Any, fn: Any, inputs: List[str], out: str) -> None:
        dtype = fn.output.dtype
        g.node(op_type, [g.cast(name, t, dtype) for name, t in zip(inputs, fn.inputs)], out)
    return emit


def along_axis(op_type: str) -> Emit:
    """Softmax and LogSoftmax over ``fn.axis`` (ONNX's opset >= 13 meaning: one axis)."""
    def emit(g: Any, fn: Any, inputs: List[str], out: str) -> None:
        g.node(op_type, inputs, out, axis=int(fn.axis))
    return emit


def gemm(g: Any, fn: Any, inputs: List[str], out: str) -> None:
    """Affine: y = x W + b is Gemm(x, W, b); x of more than 2 axes is flattened to rows, and
    one 1-D sample is MatMul(x, W) (+ b), as Gemm takes matrices only."""
    x = inputs[0]
    if fn.inputs[0].ndim == 1:
        if len(inputs) == 2:
            g.node("MatMul", inputs, out)
        else:
            g.node("Add", [g.node("MatMul", inputs[:2]), inputs[2]], out)
        return
    if fn.inputs[0].ndim != 2:
        x = g.node("Flatten", [x], axis=1)
    g.node("Gemm", [x, *inputs[1:]], out)


def window(op_type: str, **attributes: Any) -> Emit:
    """Conv, MaxPool or AveragePool with the op's kernel, strides and pads (ONNX's pads are
    [top, left, bottom, right]; minigrad pads both sides alike)."""
    def emit(g: Any, fn: Any, inputs: List[str], out: str) -> None:
        kernel = fn.inputs[1].shape[2:] if op_type == "Conv" else fn.kernel
        g.node(op_type, inputs, out, kernel_shape=[int(k) for k in kernel],
               strides=[int(s) for s in fn.stride], pads=[int(p) for p in fn.padding] * 2,
               **attributes)
    return emit


def leaky_relu(g: Any, fn: Any, inputs: List[str], out: str) -> None:
    """LeakyRelu; its alpha is a float32 attribute, so a float64 slope that float32 does not
    hold exactly becomes x · where(x > 0, 1, slope) with the slope as a float64 constant."""
    dtype = fn.output.dtype
    if float(np.float32(fn.slope)) == float(dtype.type(fn.slope)):
        g.node("LeakyRelu", inputs, out, alpha=float(fn.slope))
        return
    positive = g.node("Greater", [inputs[0], g.constant(np.zeros((), dtype), "zero")])
    factor = g.node("Where", [positive, g.constant(np.ones((), dtype), "one"),
                              g.constant(np.asarray(fn.slope, dtype), "slope")])
    g.node("Mul", [inputs[0], factor], out)


def batch_normalization(g: Any, fn: Any, inputs: List[str], out: str) -> None:
    """BatchNorm in evaluation: BatchNormalization with the running statistics. Its epsilon is
    a float32 attribute, so when float32 does not hold ε exactly in the model's dtype (1e-5 in
    float64), the running variance is stored as σ² + ε, summed as minigrad does, with ε = 0."""
    if fn.training:
        raise NotExportable(f"{fn.name}: normalises with the batch's own statistics (training "
                            "mode, or a BatchNorm without running statistics), which ONNX's "
                            "BatchNormalization does not do in inference; export in eval mode "
                            "with track_running_stats=True")
    x = fn.inputs[0]
    channels, dtype = x.shape[1], x.dtype
    scale, bias = inputs[1:] if len(inputs) == 3 else (
        g.constant(np.ones(channels, dtype), "weight"), g.constant(np.zeros(channels, dtype),
                                                                   "bias"))
    var, eps = np.array(fn.var, dtype), fn.eps
    if float(np.float32(eps)) != float(dtype.type(eps)):
        var, eps = var + dtype.type(eps), 0.0
    mean = g.constant(np.array(fn.mean, dtype), "running_mean")
    var_name = g.constant(var, "running_var" if eps else "running_var_plus_eps")
    g.node("BatchNormalization", [inputs[0], scale, bias, mean, var_name], out,
           epsilon=float(eps))


def dropout(g: Any, fn: Any, inputs: List[str], out: str) -> None:
    """Dropout in training mode has a random mask: no faithful ONNX form."""
    raise NotExportable(f"{fn.name}: dropout in training mode multiplies by a random mask; in "
                        "eval mode (what export uses) nn.Dropout is the identity - a "
                        "F.dropout(..., training=True) in forward should pass "
                        "training=self.training")


def reshape(g: Any, fn: Any, inputs: List[str], out: str) -> None:
    """Reshape to the traced output shape, with -1 for the batch axis under dynamic_batch."""
    shape = list(fn.output.shape)
    axis = g.batch_axis(fn.output)
    if axis is not None:
        shape[axis] = -1
    g.node("Reshape", [inputs[0], g.constant(np.array(shape, np.int64), "shape")], out)


def transpose(g: Any, fn: Any, inputs: List[str], out: str) -> None:
    """Transpose with the recorded permutation."""
    g.node("Transpose", inputs, out, perm=[int(a) for a in fn.axes])


def cast(g: Any, fn: Any, inputs: List[str], out: str) -> None:
    """Cast to the output's dtype."""
    g.node("Cast", inputs, out, to=g.onnx_dtype(fn.output.dtype))


@dataclass(frozen=True)
class Mapping:
    """How one minigrad op is written in ONNX (see the module docstring)."""

    emit: Emit
    batch: Callable[[Any, Axes], Optional[int]] = follows_first_input


#: minigrad op class -> its ONNX form.
MAPPINGS = {
    _conv.Conv2d: Mapping(window("Conv"), image_batch),
    _conv.MaxPool2d: Mapping(window("MaxPool"), image_batch),
    _conv.AvgPool2d: Mapping(window("AveragePool", count_include_pad=1), image_batch),
    _linear.Affine: Mapping(gemm, rows_batch),
    _arithmetic.MatMul: Mapping(same("MatMul"), matmul_batch),
    _arithmetic.Add: Mapping(elementwise("Add"), broadcast_batch),
    _arithmetic.Sub: Mapping(elementwise("Sub"), broadcast_batch),
    _arithmetic.Mul: Mapping(elementwise("Mul"), broadcast_batch),
    _arithmetic.Div: Mapping(elementwise("Div"), broadcast_batch),
    _arithmetic.Pow: Mapping(elementwise("Pow"), broadcast_batch),
    _arithmetic.Neg: Mapping(same("Neg")),
    _arithmetic.Cast: Mapping(cast),
    _elementwise.Maximum: Mapping(elementwise("Max"), broadcast_batch),
    _elementwise.Minimum: Mapping(elementwise("Min"), broadcast_batch),
    _elementwise.ReLU: Mapping(same("Relu")),
    _elementwise.Sigmoid: Mapping(same("Sigmoid")),
    _elementwise.Tanh: Mapping(same("Tanh")),
    _elementwise.Exp: Mapping(same("Exp")),
    _elementwise.Log: Mapping(same("Log")),
    _elementwise.Sqrt: Mapping(same("Sqrt")),
    _elementwise.Abs: Mapping(same("Abs")),
    _elementwise.LeakyReLU: Mapping(leaky_relu),
    _normalization.BatchNorm: Mapping(batch_normalization, channels_batch),
    _regularization.Dropout: Mapping(dropout),
    _reduction.Softmax: Mapping(along_axis("Softmax")),
    _reduction.LogSoftmax: Mapping(along_axis("LogSoftmax")),
    _shape.Reshape: Mapping(reshape, reshape_batch),
    _shape.Transpose: Mapping(transpose, transpose_batch),
}
