"""Containers: ``Sequential`` (modules applied in order) and ``ModuleList`` (a registered
list)."""
from __future__ import annotations

import operator
from typing import Any, Iterable, Iterator, Union

import numpy as np

from .module import Module


class _IndexedModules(Module):
    """Sub-modules registered under the names '0', '1', ...; indexable, iterable, sized."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> "_IndexedModules":
        """Add ``module`` at the end."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: expected a Module, got "
                            f"{type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "_IndexedModules":
        """Add every module of ``modules`` at the end."""
        for module in modules:
            self.append(module)
        return self

    def _sliced(self, modules: list) -> "_IndexedModules":
        """A plain container of ``modules`` (what slicing returns, also for subclasses)."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, index: Union[int, slice]) -> Any:
        items = list(self._modules.values())
        if isinstance(index, slice):
            return self._sliced(items[index])
        try:
            if isinstance(index, (bool, np.bool_)):
                raise TypeError
            index = operator.index(index)             # ints, NumPy ints, 0-d int arrays
        except TypeError:
            raise TypeError(f"{type(self).__name__}: indices must be integers or slices, got "
                            f"{type(index).__name__} {index!r}") from None
        if not -len(items) <= index < len(items):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for "
                             f"{len(items)} modules")
        return items[index]


class Sequential(_IndexedModules):
    """Applies its modules in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``."""

    def __init__(self, *modules: Module) -> None:
        if len(modules) == 1 and not isinstance(modules[0], Module):
            if not hasattr(modules[0], "__iter__"):
                raise TypeError(f"{type(self).__name__}: expected Modules or an iterable of "
                                f"them, got {type(modules[0]).__name__}")
            modules = tuple(modules[0])                      # also accept one iterable
        super().__init__(modules)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def _sliced(self, modules: list) -> "Sequential":
        return Sequential(*modules)


class ModuleList(_IndexedModules):
    """A list of modules whose parameters belong to the owner (it has no forward)."""

    def _sliced(self, modules: list) -> "ModuleList":
        return ModuleList(modules)
