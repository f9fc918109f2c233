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

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "full", "arange", "randn", "rand", "zeros_like",
    "ones_like", "Function", "no_grad", "enable_grad", "is_grad_enabled", "grad",
    "gradcheck", "gradgradcheck", "numerical_gradient", "GradcheckError", "manual_seed",
    "functional", "detect_anomaly", "is_anomaly_enabled",
    "nn", "save", "load",
    "optim",
    "viz", "trace_backward", "onnx",
]
