"""minigrad's benchmarks: speed and memory against hand-written NumPy, scikit-learn and PyTorch.

Run ``python -m benchmarks`` (or ``python benchmarks/run.py``) from a checkout; ``--help`` lists
the options. Nothing here is imported by minigrad itself, and importing this package does not
import NumPy (``run.py`` may re-execute the process before NumPy loads).
"""
