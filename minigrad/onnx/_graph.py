"""The recorded graph of one forward, turned into an ONNX graph.

``CreationSites`` notes where each op of the traced forward was created; ``ops_in_order`` walks
the autograd graph from the outputs; ``GraphBuilder`` writes the ONNX nodes, one op at a time,
through the table in ``ops.py``.
"""
from __future__ import annotations

import os
import sys
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..autograd import Function
from ..nn.module import Module
from .ops import MAPPINGS, BatchAxisError, ExportError, NotExportable

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class CreationSites:
    """Context manager: while active (in this thread), each op whose ``forward`` runs is noted
    with where it was created: the innermost frame outside the minigrad package (``file:line in
    function``) and the innermost module being called. Only ``export`` uses it, around its one
    traced forward, through ``sys.setprofile`` (the previous profiler is put back on exit)."""

    def __init__(self, model: Any) -> None:
        modules = model.named_modules() if isinstance(model, Module) else ()
        self._module_names = {id(module): name for name, module in modules}
        self.sites: Dict[Any, str] = {}
        self.paths: Dict[Any, str] = {}

    def __enter__(self) -> "CreationSites":
        self._previous = sys.getprofile()
        sys.setprofile(self._on_event)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        sys.setprofile(self._previous)

    def _on_event(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_name == "forward":
            fn = frame.f_locals.get("self")
            if isinstance(fn, Function):
                self._note(fn, frame.f_back)

    def _note(self, fn: Function, frame: Any) -> None:
        """Record ``fn``'s site from the frames calling its forward."""
        where = module = None
        while frame is not None and (where is None or module is None):
            code = frame.f_code
            if where is None and not code.co_filename.startswith(_PACKAGE):
                where = f"{code.co_filename}:{frame.f_lineno} in {code.co_name}"
            if module is None and code.co_name == "__call__":
                owner = frame.f_locals.get("self")
                if isinstance(owner, Module):
                    module = (self._module_names.get(id(owner)), type(owner).__name__)
            frame = frame.f_back
        site = where or "an unknown place"
        if module is not None:
            path, kind = module
            site += f", in module {path!r} ({kind})" if path else f", in {kind}"
            self.paths[fn] = path or ""
        self.sites[fn] = site

    def describe(self, fn: Any) -> str:
        """'created at file:line in function, in module 'name' (Type)' for messages."""
        return f"created at {self.sites.get(fn, 'an unknown place')}"


def ops_in_order(outputs: Sequence[Any], inputs: Sequence[Any]) -> List[Any]:
    """The recorded ops that the outputs depend on and that depend on an input, each after the
    ops it reads (an iterative depth-first walk: no recursion limit). Ops that depend on no
    input (e.g. a transposed weight) are left out: their outputs are constants."""
    input_ids = {id(t) for t in inputs}
    depends: Dict[int, bool] = {}          # id(op) -> whether it depends on an input
    order = []
    stack: List[Tuple[Any, bool]] = [(t.grad_fn, False) for t in outputs
                                     if t.grad_fn is not None]
    while stack:
        fn, expanded = stack.pop()
        if id(fn) in depends:
            continue
        if not expanded:
            stack.append((fn, True))
            stack.extend((t.grad_fn, False) for t in fn.inputs
                         if t.grad_fn is not None and id(t.grad_fn) not in depends)
            continue
        depends[id(fn)] = any(id(t) in input_ids or (t.grad_fn is not None and
                                                     depends[id(t.grad_fn)])
                              for t in fn.inputs)
        if depends[id(fn)]:
            order.append(fn)
    return order


class GraphBuilder:
    """Collects ONNX nodes and initializers; every Tensor of the trace gets one ONNX name."""

    def __init__(self, opset: int, dynamic_batch: bool, sites: CreationSites,
                 parameter_names: Dict[int, str]) -> None:
        self.opset = opset
        self.dynamic_batch = dynamic_batch
        self.sites = sites
        self.parameter_names = parameter_names
        self.nodes: list = []
        self.initializers: list = []
        self._names: Dict[int, str] = {}           # id(tensor) -> ONNX name
        self._batch: Dict[int, Optional[int]] = {}  # id(tensor) -> its batch axis
        self._taken: set = set()
        self._constants: set = set()               # id(tensor) of those held as initializers
        self._counts: Counter = Counter()
        self._path = ""                            # module path of the op being written

    # -- what mappings call ------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        """A new unique value name made from ``hint``."""
        name = hint
        while name in self._taken:
            self._counts[hint] += 1
            name = f"{hint}_{self._counts[hint]}"
        self._taken.add(name)
        return name

    def node(self, op_type: str, inputs: Sequence[str], out: Optional[str] = None,
             **attributes: Any) -> str:
        """Add the node ``op_type(inputs) -> out`` (a fresh name if None); returns ``out``."""
        out = out or self.fresh(f"{self._path}/{op_type}" if self._path else op_type)
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out,
                                           **attributes))
        return out

    def constant(self, array: np.ndarray, hint: str) -> str:
        """Add ``array`` as an initializer; returns its name."""
        name = self.fresh(f"{self._path}.{hint}" if self._path else hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def cast(self, name: str, tensor: Any, dtype: np.dtype) -> str:
        """The value ``name`` (holding ``tensor``) in ``dtype``: a Cast node, or nothing."""
        if tensor.dtype == dtype:
            return name
        return self.node("Cast", [name], to=self.onnx_dtype(dtype))

    def batch_axis(self, tensor: Any) -> Optional[int]:
        """The batch axis of a value of the graph (None: none, or not dynamic_batch)."""
        return self._batch.get(id(tensor))

    @staticmethod
    def onnx_dtype(dtype: np.dtype) -> int:
        """ONNX's number for a NumPy dtype."""
        return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    # -- what the exporter calls -------------------------------------------------------------
    def reserve(self, names: Sequence[str]) -> None:
        """Keep the graph's input and output names for them alone."""
        self._taken.update(names)

    def bind(self, tensor: Any, name: str, batch_axis: Optional[int]) -> None:
        """``tensor`` is the ONNX value ``name``."""
        self._names[id(tensor)] = name
        self._batch[id(tensor)] = batch_axis

    def value(self, tensor: Any) -> str:
        """The ONNX name of ``tensor``; a tensor not computed in the graph becomes an initializer
        (a parameter under its name in the model, anything else as a constant)."""
        name = self._names.get(id(tensor))
        if name is None:
            hint = self.parameter_names.get(id(tensor), "const")
            path, self._path = self._path, ""
            name = self.constant(tensor.data, hint)
            self._path = path
            self._names[id(tensor)] = name
            self._constants.add(id(tensor))
        return name

    def is_computed(self, tensor: Any) -> bool:
        """Whether ``tensor`` is an input of the graph or computed in it (not a constant)."""
        return id(tensor) in self._names and id(tensor) not in self._constants

    def add_op(self, fn: Any, out: Optional[str]) -> None:
        """Write one recorded op through its mapping; its output becomes ``out`` (or a fresh
        name)."""
        mapping = MAPPINGS.get(type(fn))
        if mapping is None:
            supported = ", ".join(sorted(cls.__name__ for cls in MAPPINGS))
            raise ExportError(f"minigrad.onnx.export: the op {fn.name} ({self.sites.describe(fn)}) "
                              f"has no ONNX mapping; supported ops: {supported}")
        inputs = [self.value(t) for t in fn.inputs]
        self._path = self.sites.paths.get(fn, "")
        try:
            axis = None
            if self.dynamic_batch:
                axis = mapping.batch(fn, [self.batch_axis(t) for t in fn.inputs])
            self._batch[id(fn.output)] = axis               # (emit may read it)
            out = out or self.fresh(f"{self._path}/{fn.name}" if self._path else fn.name)
            mapping.emit(self, fn, inputs, out)
        except BatchAxisError as error:
            raise ExportError(f"minigrad.onnx.export: {error} ({self.sites.describe(fn)}); with "
                              f"dynamic_batch=True the first axis of each input is the batch "
                              f"axis: export with dynamic_batch=False for a fixed batch "
                              f"size") from None
        except NotExportable as error:
            raise ExportError(f"minigrad.onnx.export: {error} ({self.sites.describe(fn)})") \
                from None
        self.bind(fn.output, out, axis)

    def value_info(self, tensor: Any, name: str) -> Any:
        """The declared type and shape of a graph input or output (the batch axis symbolic)."""
        shape: List[Any] = list(tensor.shape)
        axis = self.batch_axis(tensor)
        if axis is not None:
            shape[axis] = "batch"
        return helper.make_tensor_value_info(name, self.onnx_dtype(tensor.dtype), shape)


def build_model(inputs: Sequence[Any], outputs: Sequence[Any], input_names: Sequence[str],
                output_names: Sequence[str], builder: GraphBuilder, graph_name: str) -> Any:
    """The ONNX model computing ``outputs`` from ``inputs``, as recorded."""
    builder.reserve([*input_names, *output_names])
    for tensor, name in zip(inputs, input_names):
        builder.bind(tensor, name, 0 if builder.dynamic_batch else None)
    wanted = {}                                        # id(output tensor) -> its output name
    for tensor, name in zip(outputs, output_names):
        wanted.setdefault(id(tensor), name)
    for fn in ops_in_order(outputs, inputs):
        builder.add_op(fn, wanted.get(id(fn.output)))
    for i, tensor in enumerate(outputs):
        if not builder.is_computed(tensor):
            raise ExportError(f"minigrad.onnx.export: output {i} of shape {tensor.shape} does "
                              "not depend on the input through recorded ops (something on the "
                              "way was computed with .data, NumPy, a comparison, under no_grad "
                              "or detached)")
    for tensor, name in zip(outputs, output_names):
        if builder.value(tensor) != name:              # an input, a constant, a repeated output
            builder.node("Identity", [builder.value(tensor)], name)
    graph = helper.make_graph(
        builder.nodes, graph_name,
        [builder.value_info(t, name) for t, name in zip(inputs, input_names)],
        [builder.value_info(t, name) for t, name in zip(outputs, output_names)],
        initializer=builder.initializers)
    opsets = [helper.make_opsetid("", builder.opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="minigrad")
    model.ir_version = helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(model, full_check=True)
    return model
