"""How many NumPy calls one training step makes: ``with counting() as count: step()``.

Fewer, larger NumPy calls is the lever left (issue 20), so the train table shows, next to the
time, the NumPy calls per step of minigrad and of the hand-written floor. A "NumPy call" is one
entry from Python into NumPy, counted once however much NumPy does inside:

- an operator or an index on an ndarray (``a + b``, ``a @ W``, ``a > 0``, ``-a``, ``a[i]``,
  ``a[i] = v``, ``a += b``);
- a ufunc call (``np.exp(a)``, ``np.maximum(a, 0, out=a)``);
- a NumPy function or method (``np.dot``, ``np.zeros``, ``a.sum()``, ``np.add.at``).

Python's profiler sees the last kind only: ``sys.setprofile``'s ``c_call`` events name C
functions and methods (``ndarray.sum``, ``ufunc.reduce``) and its ``call`` events NumPy's Python
functions, but an operator is not a call for it, and neither is calling a ufunc (not a C
function object). Those two are counted by a wrapper around the C slots NumPy gives Python for
them (``ndarray``'s number, comparison and mapping slots, the ufunc type's call slot), put in
place for the duration of ``counting()`` in the benchmark process only and restored after. While
NumPy's own Python code runs (``np.linalg.norm`` say), the calls it makes are not counted again.
The slot offsets are CPython's type layout. Code that makes NumPy raise inside the block is
not supported (the block then raises RuntimeError): a training step does not.
"""
from __future__ import annotations

import contextlib
import ctypes
import sys
from typing import Any, Callable, Dict, Iterator, List, Tuple

import numpy as np

_POINTER = ctypes.POINTER(ctypes.c_void_p)
_PTR = ctypes.c_void_p     # objects pass through as raw pointers: no reference is taken or lost
_UNARY = ctypes.PYFUNCTYPE(_PTR, _PTR)
_BINARY = ctypes.PYFUNCTYPE(_PTR, _PTR, _PTR)
_TERNARY = ctypes.PYFUNCTYPE(_PTR, _PTR, _PTR, _PTR)
_COMPARE = ctypes.PYFUNCTYPE(_PTR, _PTR, _PTR, ctypes.c_int)
_ASSIGN = ctypes.PYFUNCTYPE(ctypes.c_int, _PTR, _PTR, _PTR)

# offsets in PyTypeObject (pointer-sized fields) and in PyNumberMethods / PyMappingMethods
_WORD = ctypes.sizeof(ctypes.c_void_p)
_TP_AS_NUMBER, _TP_AS_MAPPING, _TP_CALL, _TP_FLAGS, _TP_RICHCOMPARE = 12, 14, 16, 21, 25
_HAVE_VECTORCALL = 1 << 11
_NUMBER_SLOTS = {  # index in PyNumberMethods: signature
    0: _BINARY, 1: _BINARY, 2: _BINARY, 3: _BINARY, 4: _BINARY, 5: _TERNARY,  # + - * % divmod **
    6: _UNARY, 7: _UNARY, 8: _UNARY,                                   # -a +a abs(a)
    19: _BINARY, 20: _BINARY, 21: _BINARY, 23: _TERNARY,                 # += -= *= **=
    29: _BINARY, 30: _BINARY, 31: _BINARY, 32: _BINARY, 34: _BINARY,      # // / //= /= @
}
_MP_SUBSCRIPT, _MP_ASS_SUBSCRIPT = 1, 2


class _Counter:
    """The count, and how deep we are in NumPy's own Python code (then nothing is counted)."""

    def __init__(self) -> None:
        self.calls = 0
        self.inside_numpy = 0
        self.error: Any = None      # what NumPy raised inside a wrapped slot, if anything

    def enter(self) -> None:
        """A call into NumPy starts: count it unless NumPy itself made it."""
        if not self.inside_numpy:
            self.calls += 1
        self.inside_numpy += 1

    def leave(self) -> None:
        self.inside_numpy -= 1

    def profile(self, frame: Any, event: str, arg: Any) -> None:
        """``sys.setprofile`` hook: NumPy's Python functions and C functions/methods. (A
        function with ``__array_function__`` dispatch first runs its ``*_dispatcher``.)"""
        if event in ("call", "return"):
            if _in_numpy(frame) and not _in_numpy(frame.f_back) and \
                    not frame.f_code.co_name.endswith("_dispatcher"):
                self.enter() if event == "call" else self.leave()
        elif _is_numpy_callable(arg) and not _in_numpy(frame):     # c_call, c_return...
            self.enter() if event == "c_call" else self.leave()


def _in_numpy(frame: Any) -> bool:
    return frame is not None and frame.f_globals.get("__name__", "").startswith("numpy")


def _is_numpy_callable(function: Any) -> bool:
    owner = getattr(function, "__self__", None)
    if isinstance(owner, (np.ndarray, np.ufunc, np.generic)):
        return True
    return (getattr(function, "__module__", None) or "").startswith("numpy")


def _wrap(counter: _Counter, signature: Any, original: int) -> Any:
    """A C function pointer that counts one call, then calls ``original``.

    An exception cannot cross a ctypes callback: one raised inside is kept in
    ``counter.error`` and the slot answers NotImplemented (Python then raises a TypeError of its
    own), so the code under count fails instead of crashing, and ``counting()`` re-raises."""
    call = signature(original)
    failed = -1 if signature is _ASSIGN else id(NotImplemented)

    def counted(*args: Any) -> Any:
        counter.enter()
        try:
            return call(*args)
        except BaseException as error:      # noqa: B902  (it must not reach ctypes)
            counter.error = counter.error or error
            if failed != -1:
                ctypes.pythonapi.Py_IncRef(ctypes.py_object(NotImplemented))
            return failed
        finally:
            counter.leave()
    return signature(counted)


def _slot_table(type_object: type, index: int) -> Any:
    """The pointer-sized field ``index`` of a type object, as an array of pointers."""
    return ctypes.cast(id(type_object) + index * _WORD, _POINTER)


def supported() -> bool:
    """Whether this interpreter lays type objects out as the offsets above say (checked on
    fields Python also shows: ``__basicsize__`` and ``__flags__``)."""
    return all(_slot_table(kind, 0)[4] == kind.__basicsize__ and
               _slot_table(kind, 0)[_TP_FLAGS] == kind.__flags__
               for kind in (np.ndarray, np.ufunc))


@contextlib.contextmanager
def counting() -> Iterator[_Counter]:
    """Count NumPy calls made by the code inside the ``with`` block (``counter.calls``)."""
    if not supported():
        raise RuntimeError("numpy_calls: this Python's type objects are not laid out as "
                           "expected; NumPy calls cannot be counted here")
    counter = _Counter()
    patches: List[Tuple[Any, int, int]] = []    # (table, index, original pointer)
    keep: List[Any] = []                        # the wrappers must outlive the block

    def patch(table: Any, index: int, signature: Any) -> None:
        original = table[index]
        if original:
            wrapper = _wrap(counter, signature, original)
            keep.append(wrapper)
            patches.append((table, index, original))
            table[index] = ctypes.cast(wrapper, ctypes.c_void_p).value

    array_type = _slot_table(np.ndarray, 0)
    numbers = ctypes.cast(array_type[_TP_AS_NUMBER], _POINTER)
    for index, signature in _NUMBER_SLOTS.items():
        patch(numbers, index, signature)
    mapping = ctypes.cast(array_type[_TP_AS_MAPPING], _POINTER)
    patch(mapping, _MP_SUBSCRIPT, _BINARY)
    patch(mapping, _MP_ASS_SUBSCRIPT, _ASSIGN)
    patch(array_type, _TP_RICHCOMPARE, _COMPARE)
    ufunc_type = _slot_table(np.ufunc, 0)
    flags = ufunc_type[_TP_FLAGS]
    patch(ufunc_type, _TP_CALL, _TERNARY)      # a ufunc call goes through tp_call once its
    ufunc_type[_TP_FLAGS] = flags & ~_HAVE_VECTORCALL    # type stops offering vectorcall
    sys.setprofile(counter.profile)
    try:
        yield counter
    finally:
        sys.setprofile(None)
        ufunc_type[_TP_FLAGS] = flags
        for table, index, original in reversed(patches):
            table[index] = original
    if counter.error is not None:
        raise RuntimeError("NumPy raised inside numpy_calls.counting(), which cannot pass an "
                           "error on: the count is void") from counter.error


def calls_per_step(step: Callable[[], Any], steps: int = 3) -> float:
    """NumPy calls per call of ``step`` (after one call outside the count, to warm up)."""
    step()
    with counting() as counter:
        for _ in range(steps):
            step()
    return counter.calls / steps


def calls_of(steps: Dict[str, Callable[[], Any]], names: Tuple[str, ...] = ("numpy", "minigrad")
             ) -> Dict[str, float]:
    """``calls_per_step`` of the named competitors among ``steps`` (none where the layout
    check fails)."""
    if not supported():
        return {}
    return {name: calls_per_step(steps[name]) for name in names if name in steps}
