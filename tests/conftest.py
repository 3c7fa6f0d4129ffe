"""Shared test settings: hypothesis profiles that do not depend on the machine's speed."""

import os

from hypothesis import HealthCheck, settings

# Machines here are shared and noisy: no per-example deadline, and a fixed derandomized profile on CI.
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")
