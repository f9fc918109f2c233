"""Optimizers with PyTorch's names and numerics, and the book's forms in their docstrings."""
from . import lr_scheduler
from .adagrad import AdaGrad, Adagrad
from .adam import Adam
from .adamw import AdamW
from .momentum import Momentum
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Momentum", "AdaGrad", "Adagrad", "RMSprop", "Adam", "AdamW",
           "lr_scheduler"]
