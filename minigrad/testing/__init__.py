"""Tools for testing your own ops and layers the way minigrad tests its own.

- ``check_layer(layer, x)``: check a Module, a Function subclass or a callable in one call
  (gradients against central differences, linearity in the upstream gradient, no in-place
  change of it, no stale cache, dtype kept); returns a ``LayerCheckReport`` or raises
  ``GradcheckError`` saying what is wrong. Needs only NumPy.
- ``minigrad.testing.strategies``: hypothesis strategies for arrays, shapes, broadcastable
  shapes, batches, and values kept away from kinks (needs ``pip install "minigrad[test]"``).
"""
from .check_layer import GradientCheck, LayerCheckReport, check_layer

__all__ = ["check_layer", "LayerCheckReport", "GradientCheck"]
