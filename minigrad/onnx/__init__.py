"""Export a model to ONNX: ``minigrad.onnx.export(model, example_input, "model.onnx")``.

Trace-based, as ``torch.onnx.export``: the model runs once on the example input, the ops it
records are read back from the autograd graph and written as ONNX nodes (the table of op
mappings is ``minigrad.onnx.ops.MAPPINGS``). Needs the ``onnx`` package
(``pip install "minigrad[onnx]"``); ONNX Runtime is only needed to run the file.
"""
from __future__ import annotations

import os
from typing import Any, List, Sequence, Union

import numpy as np

from ..autograd import enable_grad, no_grad
from ..nn.module import Module
from ..tensor import Tensor
from .ops import ExportError

#: The opset written when ``opset`` is None (ONNX Runtime >= 1.11 runs it).
DEFAULT_OPSET = 17
#: The oldest opset written: Softmax and LogSoftmax take one axis from opset 13 on, and ONNX's
#: reference evaluator (which checks each file) runs opset 13's BatchNormalization with a
#: training momentum (ONNX Runtime does not).
MIN_OPSET = 14

__all__ = ["export", "DEFAULT_OPSET", "MIN_OPSET", "ExportError"]

_WHO = "minigrad.onnx.export"        # the start of every error message


def export(model: Any, example_input: Any, path: Union[str, "os.PathLike[str]"], *,
           input_names: Sequence[str] = ("input",), output_names: Sequence[str] = ("output",),
           dynamic_batch: bool = True, opset: Any = None) -> Any:
    """Write ``model`` as an ONNX file, traced on ``example_input``.

    The model runs once on ``example_input`` in eval mode (BatchNorm uses its running
    statistics, Dropout is the identity), as ``torch.onnx.export`` does by default: a model in
    training mode is put in eval mode for the trace, and every sub-module's mode is restored
    afterwards. Each op it records becomes ONNX nodes: ``y = f(x)`` in minigrad is
    ``y = f(x)`` in ONNX Runtime, up to rounding. Supported: Linear / affine (Gemm), matmul,
    + - * / ** with broadcasting, maximum, minimum, neg, exp, log, sqrt, abs, cast, ReLU,
    LeakyReLU, Sigmoid, Tanh, softmax, log_softmax, BatchNorm (eval), Dropout (eval: nothing),
    Flatten / reshape / transpose. Parameters, and anything else that does not depend on the
    input, become initializers in their own dtype (float32 or float64, as the model).

    Never a silently wrong file: an op without a mapping, or one that cannot be exported as
    called (dropout in training mode, BatchNorm with batch statistics), raises ``ExportError``
    naming the op and where it was created (file:line, module); and before writing, the file is
    run with ONNX's reference evaluator on a second input (the example's values rolled by one
    place, one row longer with ``dynamic_batch``) against the model itself, so a forward that
    leaves the tape (``.data``, NumPy, comparisons such as ``x > 0``, ``no_grad``, randomness)
    raises ``ExportError`` instead of being written as constants.

    Parameters
    ----------
    model : nn.Module or callable
        Called as ``model(*inputs)``; returns a Tensor or a tuple of Tensors.
    example_input : Tensor, ndarray or array-like, or a tuple of them (several inputs)
        Floating data of the shape(s) the model takes; the batch axis first.
    path : str or os.PathLike
        Where to write the ``.onnx`` file (atomically).
    input_names, output_names : sequence of str
        Names of the graph's inputs and outputs, one per input / output.
    dynamic_batch : bool
        The first axis of every input (and the axis it becomes in the outputs) is a symbolic
        ``batch`` dimension, so the file runs on any batch size; an op that would tie the graph
        to the traced batch size (a reshape merging the batch axis, a constant of the batch's
        length) raises ``ExportError``. False: every shape as traced.
    opset : int, optional
        ONNX opset, ``MIN_OPSET`` (14) up to what the installed ``onnx`` knows; default
        ``DEFAULT_OPSET`` (17).

    Returns
    -------
    onnx.ModelProto
        The model written (it passes ``onnx.checker.check_model(full_check=True)``).
    """
    onnx = _require_onnx()
    path = _checked_path(path)
    arrays = _example_arrays(example_input)
    input_names = _names(input_names, "input_names", len(arrays))
    if isinstance(dynamic_batch, (bool, np.bool_)):
        dynamic_batch = bool(dynamic_batch)
    else:
        raise TypeError(f"{_WHO}: dynamic_batch must be True or False, got {dynamic_batch!r}")
    opset = _checked_opset(opset, onnx.defs.onnx_opset_version())
    if not callable(model):
        raise TypeError(f"{_WHO}: model must be an nn.Module or a callable, got "
                        f"{type(model).__name__}")
    if dynamic_batch and any(a.ndim == 0 for a in arrays):
        raise ValueError(f"{_WHO}: dynamic_batch=True takes the first axis of each input as the "
                         "batch axis, but an example input is 0-d; pass dynamic_batch=False")
    modes = [(m, m.training) for m in model.modules()] if isinstance(model, Module) else []
    if isinstance(model, Module):
        model.eval()
    try:
        proto = _traced_model(model, arrays, input_names, output_names, dynamic_batch, opset)
        _verify(proto, model, arrays, input_names, dynamic_batch)
    finally:
        for module, mode in modes:
            module.training = mode
    from .._files import atomic_write
    data = proto.SerializeToString()
    atomic_write(path, lambda f: f.write(data))
    return proto


def _traced_model(model: Any, arrays: List[np.ndarray], input_names: List[str],
                  output_names: Any, dynamic_batch: bool, opset: int) -> Any:
    """Run ``model`` once on the example and build the ONNX model from what it recorded."""
    from ._graph import CreationSites, GraphBuilder, build_model
    traced = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    sites = CreationSites(model)
    with enable_grad(), sites:
        result = model(*traced)
    outputs = _outputs(result)
    output_names = _names(output_names, "output_names", len(outputs))
    if set(input_names) & set(output_names):
        raise ValueError(f"{_WHO}: input_names {input_names} and output_names {output_names} "
                         "must all differ")
    parameters = model.named_parameters() if isinstance(model, Module) else ()
    builder = GraphBuilder(opset, dynamic_batch, sites,
                           {id(p): name for name, p in parameters})
    return build_model(traced, outputs, input_names, output_names, builder,
                       type(model).__name__)


def _outputs(result: Any) -> List[Tensor]:
    """The model's output(s) as a list of Tensors."""
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    if not outputs:
        raise TypeError(f"{_WHO}: the model returned an empty tuple; it must return a Tensor "
                        "or a tuple of Tensors")
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"{_WHO}: the model must return a Tensor or a tuple of Tensors, "
                            f"got {type(out).__name__}"
                            + (f" as output {i}" if len(outputs) > 1 else ""))
    return outputs


def _verify(proto: Any, model: Any, arrays: List[np.ndarray], input_names: List[str],
            dynamic_batch: bool) -> None:
    """Run the ONNX model with ONNX's reference evaluator on a probe input other than the
    example and compare with the model itself; ExportError if they differ."""
    from onnx.reference import ReferenceEvaluator
    probes = [_probe(a, dynamic_batch) for a in arrays]
    described = "the example's values rolled by one place" + \
        (", one row longer" if dynamic_batch else "")
    try:
        with no_grad():
            expected = model(*[Tensor(p) for p in probes])
    except Exception as error:
        raise ExportError(f"{_WHO}: the model fails on a second input ({described}: "
                          f"{type(error).__name__}: {error}), so the file cannot be checked "
                          f"against it; with dynamic_batch=True, forward must work for any "
                          f"batch size (or export with dynamic_batch=False)") from error
    expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    cause = ""
    try:
        got = ReferenceEvaluator(proto).run(None, dict(zip(input_names, probes)))
    except Exception as error:                       # e.g. a constant of the traced shape
        got, cause = [], f" ({type(error).__name__}: {error})"
    worst = max((_relative_error(e.data, g) for e, g in zip(expected, got)), default=np.inf)
    for i, (e, g) in enumerate(zip(expected, got)):
        if e.shape != g.shape:
            cause = f" (output {i} has shape {g.shape}, the model gives {e.shape})"
    if not worst <= 1e3 * max(np.finfo(e.dtype).eps for e in expected):
        raise ExportError(
            f"{_WHO}: the traced graph does not reproduce the model on a second input "
            f"({described}): relative error {worst:.3g}{cause}. Something in forward was "
            f"computed outside the recorded ops (.data or .numpy(), NumPy functions, a "
            f"comparison such as x > 0, no_grad, detach, randomness in eval mode), so the file "
            f"would be wrong; nothing was written")


def _probe(array: np.ndarray, dynamic_batch: bool) -> np.ndarray:
    """The example's values rolled by one place (same values, other positions), one row longer
    with a dynamic batch (the first row again)."""
    probe = np.roll(array, 1)
    if dynamic_batch:
        probe = np.concatenate([probe, probe[:1]])
    return probe


def _relative_error(expected: np.ndarray, got: np.ndarray) -> float:
    """max |got − expected| / max(1, max |expected|); inf for another shape or dtype, NaNs
    compared as equal."""
    if expected.shape != got.shape or expected.dtype != got.dtype:
        return np.inf
    both_nan = np.isnan(expected) & np.isnan(got)
    difference = np.where(both_nan, 0, np.abs(got.astype(np.float64) - expected))
    scale = max(1.0, float(np.max(np.abs(np.where(both_nan, 0, expected)), initial=0)))
    return float(np.max(difference, initial=0)) / scale


def _require_onnx() -> Any:
    """The ``onnx`` package, or an ImportError saying how to install it."""
    try:
        import onnx
        import onnx.reference  # noqa: F401
    except ImportError as error:
        raise ImportError(f"minigrad.onnx.export needs the onnx package ({error}); install it "
                          f"with: pip install \"minigrad[onnx]\"") from None
    return onnx


def _checked_path(path: Any) -> str:
    """``path`` as a str naming a file (not a folder)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{_WHO}: path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str) or not path or os.path.isdir(path):
        raise ValueError(f"{_WHO}: path must name a file to write, got {path!r}")
    return path


def _example_arrays(example: Any) -> List[np.ndarray]:
    """The example input(s) as floating ndarrays."""
    items = list(example) if isinstance(example, tuple) else [example]
    if not items:
        raise ValueError(f"{_WHO}: example_input is an empty tuple")
    arrays = []
    for item in items:
        try:
            array = item.data if isinstance(item, Tensor) else np.asarray(item)
        except ValueError as error:                  # a ragged list
            raise ValueError(f"{_WHO}: example_input is not an array: {error}") from None
        if array.dtype.kind != "f":
            raise TypeError(f"{_WHO}: example_input must be floating (the dtype the model "
                            f"takes, e.g. float32), got dtype {array.dtype}")
        arrays.append(array)
    return arrays


def _names(names: Any, what: str, count: int) -> List[str]:
    """``names`` as a list of ``count`` distinct non-empty strings (one str is one name)."""
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, (tuple, list)) or \
            not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"{_WHO}: {what} must be a tuple of non-empty strings, got {names!r}")
    if len(names) != count:
        raise ValueError(f"{_WHO}: {what} has {len(names)} name(s) for {count} "
                         f"{what.split('_')[0]}(s): {list(names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"{_WHO}: {what} repeats a name: {list(names)}")
    return list(names)


def _checked_opset(opset: Any, newest: int) -> int:
    """``opset`` as an int in [MIN_OPSET, newest], DEFAULT_OPSET for None."""
    if opset is None:
        return min(DEFAULT_OPSET, newest)
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"{_WHO}: opset must be an int, got {opset!r}")
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"{_WHO}: opset must be in [{MIN_OPSET}, {newest}] (the installed onnx "
                         f"knows opsets up to {newest}), got {opset}")
    return int(opset)
