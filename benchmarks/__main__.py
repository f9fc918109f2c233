"""``python -m benchmarks``: see ``benchmarks/run.py``."""
import sys

from .run import reexec_without_blas_overrides

reexec_without_blas_overrides(sys.argv[1:], as_module=True)

from .run import main  # noqa: E402  (after the re-exec, before NumPy is imported)

sys.exit(main())
