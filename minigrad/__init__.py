"""minigrad: a small, fast, honest automatic-differentiation framework on NumPy."""
from . import functional
from .autograd import Function, enable_grad, grad, is_grad_enabled, no_grad
from .anomaly import detect_anomaly, is_anomaly_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_gradient
from .random import manual_seed
from .serialization import load, save
from .tensor import (Tensor, arange, full, ones, ones_like, rand, randn, tensor, zeros,
                     zeros_like)
from . import nn
from . import optim
from . import viz
from . import onnx
from .viz import trace_backward
# PyTorch's top-level names (the functions named like builtins, e.g. mg.max, stay out of
# __all__ so that `from minigrad import *` never shadows Python's max, sum, float...)
from .dtypes import (bool, double, float, float16, float32, float64, half, int, int8,  # noqa
                     int16, int32, int64, long, short, uint8)
from .functional import (abs, exp, log, matmul, maximum, minimum, pow, relu,  # noqa
                         sigmoid, sqrt, tanh)
from .pytorch_api import (amax, amin, argmax, argmin, as_tensor, cat, clamp, clone,  # noqa
                          concat, empty, eye, flatten, from_numpy, is_tensor, log_softmax,
                          logsumexp, max, mean, min, numel, permute, reshape, softmax,
                          squeeze, stack, std, sum, t, transpose, unsqueeze, var, where)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "full", "arange", "randn", "rand", "zeros_like",
    "ones_like", "Function", "no_grad", "enable_grad", "is_grad_enabled", "grad",
    "gradcheck", "gradgradcheck", "numerical_gradient", "GradcheckError", "manual_seed",
    "functional", "detect_anomaly", "is_anomaly_enabled",
    "nn", "save", "load",
    "optim",
    "viz", "trace_backward", "onnx",
    "float16", "half", "float32", "float64", "double", "int8", "uint8", "int16", "short",
    "int32", "int64", "long", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "matmul",
    "maximum", "minimum", "amax", "amin", "argmax", "argmin", "as_tensor", "cat", "clamp",
    "clone", "concat", "empty", "eye", "flatten", "from_numpy", "is_tensor", "log_softmax",
    "logsumexp", "mean", "numel", "permute", "reshape", "softmax", "squeeze", "stack", "std",
    "transpose", "unsqueeze", "var", "where",
]
