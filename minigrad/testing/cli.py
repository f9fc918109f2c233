"""``minigrad check FILE_OR_MODULE:NAME --input-shape 8,5``: check_layer from the shell.

NAME is looked up in a Python file (``path/to/layers.py``) or an importable module
(``mypackage.layers``) and turned into a layer:

- a ``Function`` subclass is checked as it is;
- any other class (a ``Module``) is built with no arguments;
- a function with no required arguments is a factory and is called; any other function, a
  Module instance or a callable object is the layer itself.

The layer is checked at its initial parameters and at parameters drawn at random (see
``check_layer``); ``--param NAME=VALUE[,VALUE...]`` gives a parameter's values instead (for a
constraint the draw cannot know), and then nothing is varied. As with ``python -m``, a module
is imported from the current folder, and a layer file may import the modules beside it.

The report of ``check_layer`` is printed. Exit status: 0 when the check passes, 1 when it finds
a problem (or the layer raises), 2 on bad usage (no such file or name, a bad shape). Output cut
short by a closed pipe (``| head``) ends quietly.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
import warnings
from typing import Any, Iterator, Tuple

import numpy as np

from ..autograd import Function
from ..gradcheck import GradcheckError, check_settings
from .check_layer import check_layer
from .parameters import ParameterValuesError

__all__ = ["add_parser", "run"]


class _Usage(Exception):
    """The command line names something that cannot be loaded or built (exit status 2)."""


def _shape(text: str) -> Tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive sizes such as "
                                         f"8,5, got {text!r}")
    return shape


def _param(text: str) -> Tuple[str, np.ndarray]:
    """``NAME=VALUE[,VALUE...]`` as (name, float64 array)."""
    name, sep, values = text.partition("=")
    try:
        array = np.array([float(part) for part in values.split(",")])
    except ValueError:
        array = np.array([])
    if not sep or not name.strip() or not array.size or not np.all(np.isfinite(array)):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE[,VALUE...] with finite numbers, "
                                         f"such as beta=1.5 or weight=0.5,1,2, got {text!r}")
    return name.strip(), array


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``check`` sub-command to an ``argparse`` sub-parsers object and return it."""
    parser = subparsers.add_parser(
        "check", help="check a layer's backward pass against central differences",
        description="Load a layer (a Module class or instance, a Function subclass or a "
                    "callable) and run minigrad.testing.check_layer on it: gradients of the "
                    "input and every parameter against central differences in float64, "
                    "linearity in the upstream gradient, no stale cache, float32 kept. Exit "
                    "status 0 if it passes, 1 if not, 2 on bad usage.")
    add = parser.add_argument
    add("target", metavar="FILE_OR_MODULE:NAME",
        help="e.g. examples/custom_layer.py:LayerNorm or mypackage.layers:Swish")
    add("--input-shape", required=True, type=_shape, metavar="N,D,...",
        help="shape of the random example input (standard normal values), e.g. 8,5")
    add("--seed", type=int, default=0, help="seed of the input, upstream gradient, dropout "
                                            "(default 0)")
    add("--eps", type=float, default=1e-6, help="central-difference step (default 1e-6)")
    add("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    add("--rtol", type=float, default=1e-3, help="relative tolerance (default 1e-3)")
    add("--no-params", dest="params", action="store_false",
        help="check only the input's gradient, not the parameters'")
    add("--eval", action="store_true", help="put a Module in eval mode before checking")
    add("--param", dest="param_values", action="append", type=_param, default=[],
        metavar="NAME=VALUE[,VALUE...]",
        help="check at these values of a parameter (one number fills it), e.g. beta=1.5 or "
             "weight=0.5,1,2; repeat for several. Parameters are then not varied (by default "
             "they are checked at their initial values and at values drawn at random)")
    parser.set_defaults(run=run)
    return parser


def _load(target: str) -> Tuple[str, Any]:
    """The object that ``FILE_OR_MODULE:NAME`` names."""
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise _Usage(f"expected FILE_OR_MODULE:NAME, got {target!r}")
    if where.endswith(".py") or os.sep in where or os.path.exists(where):
        if not os.path.isfile(where):
            raise _Usage(f"no such file: {where}")
        stem = os.path.splitext(os.path.basename(where))[0]
        spec = importlib.util.spec_from_file_location(f"_minigrad_check_{stem}", where)
        if spec is None or spec.loader is None:
            raise _Usage(f"cannot load {where} as Python")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except SyntaxError as error:
            raise _Usage(f"{where} is not valid Python: {error}") from None
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as error:
            raise _Usage(f"cannot import {where!r}: {error}") from None
    obj: Any = module
    for part in name.split("."):
        if not hasattr(obj, part):
            found = sorted(n for n, v in vars(module).items()
                           if not n.startswith("_") and (isinstance(v, type) or callable(v))
                           and getattr(v, "__module__", None) == module.__name__)
            raise _Usage(f"{where} has no {name!r}; it defines: {', '.join(found) or 'nothing'}")
        obj = getattr(obj, part)
    return name, obj


def _build(name: str, obj: Any) -> Any:
    """The layer that ``obj`` stands for (see the module docstring)."""
    if isinstance(obj, type) and issubclass(obj, Function):
        return obj
    factory = isinstance(obj, type)
    if not factory and inspect.isfunction(obj):
        required = [p for p in inspect.signature(obj).parameters.values()
                    if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                           p.POSITIONAL_OR_KEYWORD)]
        factory = not required
    if not factory:
        if not callable(obj):
            raise _Usage(f"{name} is a {type(obj).__name__}, not a layer (a Module, a Function "
                         "subclass or a callable)")
        return obj
    try:
        signature = inspect.signature(obj)
        signature.bind()
    except TypeError as error:
        raise _Usage(f"cannot build {name} with no arguments ({error}); give its arguments "
                     "defaults, or name an instance or a factory function") from None
    except ValueError:
        pass                                       # no signature to inspect: just try
    return obj()


@contextlib.contextmanager
def _import_paths(target: str) -> Iterator[None]:
    """While the layer is loaded and checked: the current folder first on ``sys.path`` (as
    ``python -m`` has it) and, for a file, its own folder (as ``python file.py`` has it), so
    that it may import the modules beside it. ``sys.path`` is put back afterwards."""
    where = target.rpartition(":")[0]
    folders = [os.getcwd()]
    if where.endswith(".py") or os.sep in where:
        folders.insert(0, os.path.dirname(os.path.abspath(where)))
    saved = list(sys.path)
    sys.path[:0] = [folder for folder in folders if folder not in sys.path]
    try:
        yield
    finally:
        sys.path[:] = saved


def _emit(text: str, stream: Any) -> None:
    """Print, and end quietly if the reader has gone (``minigrad check ... | head``)."""
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        # send what is still buffered, and the flush at exit, to /dev/null instead of a
        # "BrokenPipeError ... ignored" message (the recipe of Python's signal module docs)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def run(args: argparse.Namespace) -> int:
    """Run ``minigrad check`` for parsed arguments; returns the exit status."""
    with _import_paths(args.target):
        status, text, stream = _run(args)
    if text:
        _emit(text, stream)
    return status


def _run(args: argparse.Namespace) -> Tuple[int, str, Any]:
    """(exit status, what to print, where) for parsed arguments."""
    def usage(message: str) -> Tuple[int, str, Any]:
        return 2, f"minigrad check: error: {message}", sys.stderr

    try:
        check_settings("minigrad check: error", args.eps, args.atol, args.rtol, args.seed,
                       flag="--")
    except ValueError as error:                    # a meaningless setting: bad usage
        return 2, str(error), sys.stderr
    if args.param_values and not args.params:
        return usage("--param gives parameter values to check at, --no-params leaves the "
                     "parameters out: use one of them")
    params: Any = dict(args.param_values) if args.param_values else args.params
    try:
        name, obj = _load(args.target)
        layer = _build(name, obj)
    except _Usage as error:
        return usage(str(error))
    except Exception as error:                     # noqa: BLE001  (the user's code raised)
        return 1, (f"minigrad check: error: loading {args.target} raised "
                   f"{type(error).__name__}: {error}"), sys.stderr
    if args.eval and hasattr(layer, "eval") and not isinstance(layer, type):
        layer.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")        # the report lists kinks and vacuous passes
            report = check_layer(layer, args.input_shape, params=params, eps=args.eps,
                                 atol=args.atol, rtol=args.rtol, seed=args.seed)
    except GradcheckError as error:
        return 1, f"FAILED {error}", sys.stdout
    except ParameterValuesError as error:
        return usage(f"--param: {str(error).replace('check_layer: ', '', 1)}")
    except Exception as error:                     # noqa: BLE001  (the layer raised)
        return 1, (f"minigrad check: error: {name} raised {type(error).__name__} on an input "
                   f"of shape {args.input_shape}: {error}"), sys.stderr
    return 0, str(report), sys.stdout
