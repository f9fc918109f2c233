"""``Module``: the base class of layers and networks (parameters, buffers, sub-modules, modes,
state dicts, forward hooks)."""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .. import _checks as checks
from .._checks import real_number  # noqa: F401  (re-exported for the layers)
from ..tensor import Tensor, _HookHandle
from .parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])



def positive_int(value: Any, what: str, layer: str) -> int:
    """``value`` as an int, or ValueError naming the layer when it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: {what} must be a positive integer, got {value!r}")
    return int(value)


def floating_dtype(dtype: Any, layer: str) -> np.dtype:
    """``dtype`` as a floating ``np.dtype``, or TypeError naming the layer."""
    try:
        dtype = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{layer}: dtype must be a floating NumPy dtype such as np.float32, "
                        f"got {dtype!r}") from None
    if dtype.kind != "f":
        raise TypeError(f"{layer}: dtype must be floating, got {dtype}")
    return dtype

class Module:
    """Base class of every layer and network.

    Assigning a ``Parameter`` or a ``Module`` to an attribute registers it (in assignment
    order, which fixes the order of ``parameters()`` and ``state_dict()``); non-learnable state
    is registered with ``register_buffer``. Subclasses call ``super().__init__()`` first and
    implement ``forward``; calling the module runs ``forward`` and then the forward hooks.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_hooks", {})

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        output = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                replaced = hook(self, args, output)
                if replaced is not None:
                    output = replaced
        return output

    def register_forward_hook(self, hook: Callable[["Module", tuple, Any], Any]) -> _HookHandle:
        """Call ``hook(module, inputs, output)`` after every forward.

        ``inputs`` is the tuple of positional arguments; a hook that returns a value replaces
        the output. Returns a handle whose ``remove()`` unregisters the hook.
        """
        handle = _HookHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # -- registration ------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        registries = self.__dict__.get("_parameters")
        if registries is None and isinstance(value, (Parameter, Module)):
            raise AttributeError(f"cannot assign {type(value).__name__} '{name}' before "
                                 f"Module.__init__() is called (call super().__init__() first)")
        if isinstance(value, Parameter):
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value       # a name registered already keeps its place
        elif isinstance(value, Module):
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif registries is not None and name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter '{name}' of "
                                f"{type(self).__name__} (an nn.Parameter or None is expected)")
            self._parameters[name] = None
        elif registries is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to sub-module '{name}' "
                                f"of {type(self).__name__} (a Module or None is expected)")
            self._modules[name] = None
        elif registries is not None and name in self._buffers:
            value = _as_buffer(value, name)
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._forget(name)
        object.__delattr__(self, name)

    def _forget(self, name: str, keep: Optional[dict] = None) -> None:
        """Remove ``name`` from every registry but ``keep`` (where it is about to be replaced,
        keeping its place in the order, as in PyTorch)."""
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        """Register ``param`` (a Parameter, or None for an absent one such as a missing bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be an nn.Parameter or None, got "
                            f"{type(param).__name__}")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, array: Optional[np.ndarray]) -> None:
        """Register non-learnable state (saved in ``state_dict``, converted by ``to``)."""
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"register_buffer: invalid buffer name {name!r}")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = _as_buffer(array, name)
        object.__setattr__(self, name, self._buffers[name])

    # -- traversal ---------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[Tuple[str, "Module"]]:
        """This module and every descendant, depth first, each once, with dotted names."""
        seen: set = set()
        stack: List[Tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{key}" if name else key, child)
                        for key, child in module._modules.items() if child is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        """This module and every descendant."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[Tuple[str, "Module"]]:
        """The direct sub-modules with their attribute names; one used twice, once."""
        seen: set = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator["Module"]:
        """The direct sub-modules."""
        for _, child in self.named_children():
            yield child

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call ``fn(module)`` on every sub-module, children before their parent, then on this
        one (e.g. ``model.apply(init_weights)``); returns self."""
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}.apply: fn must be callable, got "
                            f"{type(fn).__name__}")
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def named_parameters(self, prefix: str = "",
                         recurse: bool = True) -> Iterator[Tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs in registration order; a shared parameter once."""
        seen: set = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every learnable Parameter, in a deterministic order (that of ``named_parameters``)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "") -> Iterator[Tuple[str, np.ndarray]]:
        """(dotted name, ndarray) of every registered buffer."""
        for module_name, module in self.named_modules(prefix):
            for name, array in module._buffers.items():
                if array is not None:
                    yield (f"{module_name}.{name}" if module_name else name), array

    def buffers(self) -> Iterator[np.ndarray]:
        """Every registered buffer."""
        for _, array in self.named_buffers():
            yield array

    # -- modes and gradients -----------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (``mode=False``: evaluation) here and in every descendant."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode: BatchNorm uses running statistics, Dropout is the identity."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient (to None, or to zeros)."""
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad = Tensor(np.zeros_like(param.data))

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (False) or unfreeze every parameter."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    # -- dtype -------------------------------------------------------------------------------
    def to(self, dtype: Any) -> "Module":
        """Convert every parameter and floating buffer to the floating ``dtype``, in place."""
        dtype = floating_dtype(dtype, f"{type(self).__name__}.to")
        for module in self.modules():
            for param in module._parameters.values():
                if param is not None and param.dtype != dtype:
                    param.data = param.data.astype(dtype)
                    param._version += 1      # a graph built before cannot be differentiated
                    if param.grad is not None:
                        param._grad = param.grad.astype(dtype)
            for name, array in list(module._buffers.items()):
                if array is not None and array.dtype.kind == "f" and array.dtype != dtype:
                    setattr(module, name, array.astype(dtype))
        return self

    def float(self) -> "Module":
        """``to(np.float32)``."""
        return self.to(np.float32)

    def double(self) -> "Module":
        """``to(np.float64)``."""
        return self.to(np.float64)

    # -- state dict --------------------------------------------------------------------------
    def _state_items(self) -> Iterator[Tuple[str, Any, Module, str, bool]]:
        """(dotted key, value, owning module, attribute name, is_parameter) of all state."""
        for module_name, module in self.named_modules():
            for name, param in module._parameters.items():
                if param is not None:
                    yield _join(module_name, name), param, module, name, True
            for name, array in module._buffers.items():
                if array is not None:
                    yield _join(module_name, name), array, module, name, False

    def state_dict(self) -> Dict[str, np.ndarray]:
        """A flat dict of dotted names to copies of every parameter's and buffer's array."""
        return {key: np.array(value.data if is_param else value, copy=True)
                for key, value, _, _, is_param in self._state_items()}

    def load_state_dict(self, state_dict: Dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy ``state_dict`` (ndarrays or Tensors) into the parameters and buffers.

        Everything is validated first: with ``strict`` any missing or unexpected key is an
        error, and a wrong shape or a value that cannot be cast to the target's dtype always is,
        as is a value beyond the target dtype's range (1e300 into float32 would store inf).
        All problems are listed in one ValueError and the model is left unchanged. Values are
        cast to each target's dtype.

        Parameters
        ----------
        state_dict : dict of str to ndarray or Tensor
            As ``state_dict()`` or ``mg.load`` returns it.
        strict : bool
            Whether missing and unexpected keys are errors.

        Returns
        -------
        IncompatibleKeys
            The named tuple ``(missing_keys, unexpected_keys)``.

        Raises
        ------
        ValueError
            Listing every missing/unexpected key (if strict), wrong shape and impossible cast.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected a dict, got "
                            f"{type(state_dict).__name__}")
        targets = {key: (value, module, name, is_param)
                   for key, value, module, name, is_param in self._state_items()}
        missing = [key for key in targets if key not in state_dict]
        unexpected = [key for key in state_dict if key not in targets]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        arrays = {}
        for key, value in state_dict.items():
            if key not in targets:
                continue
            target, _, _, is_param = targets[key]
            array, problem = checks.state_value(key, value, target.data if is_param else target)
            if problem is None:
                arrays[key] = array
            else:
                problems.append(problem)
        if problems:
            raise ValueError(f"{type(self).__name__}.load_state_dict: error(s) in loading the "
                             "state dict (nothing was changed):\n  " + "\n  ".join(problems))
        for key, array in arrays.items():
            value, module, name, is_param = targets[key]
            copied = np.array(array, dtype=(value.data if is_param else value).dtype, copy=True)
            if is_param:
                value.data = copied
                value._version += 1          # a graph built before cannot be differentiated
            else:
                setattr(module, name, copied)
        return IncompatibleKeys(missing, unexpected)

    # -- printing ----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (override in layers)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (f"\n  {extra}" if extra else "")
        return head + "\n" + "\n".join(lines) + "\n)"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _as_buffer(array: Any, name: str) -> Optional[np.ndarray]:
    """A buffer value: None or a numeric ndarray."""
    if array is None:
        return None
    if isinstance(array, Tensor):
        array = array.data
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiub":
        raise TypeError(f"buffer '{name}' must be a numeric ndarray or None, got "
                        f"{type(array).__name__}")
    return array
