"""Hypothesis profiles: ``dev`` (default), ``ci`` (chosen when CI=true) and ``thorough``.

Pick one with ``HYPOTHESIS_PROFILE=thorough pytest``. ``ci`` draws 50 examples per property
from a fixed seed (``derandomize``), so a CI verdict can be reproduced exactly; ``dev`` and
``thorough`` draw fresh examples each run and keep finding new cases.
"""
import os

from hypothesis import HealthCheck, settings

_slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=_slow_ok)
settings.register_profile("ci", max_examples=50, deadline=None, derandomize=True,
                          suppress_health_check=_slow_ok, print_blob=True)
settings.register_profile("thorough", max_examples=500, deadline=None,
                          suppress_health_check=_slow_ok)

_default = "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))
