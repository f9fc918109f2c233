"""Tools for testing your own ops and layers the way minigrad tests its own.

- ``minigrad.testing.strategies``: hypothesis strategies for arrays, shapes, broadcastable
  shapes, batches, and values kept away from kinks (needs ``pip install minigrad[test]``).
"""
