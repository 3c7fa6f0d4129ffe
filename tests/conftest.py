"""Shared test settings: hypothesis profiles that do not depend on the machine's speed, and the browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Machines here are shared and noisy: no per-example deadline, and a fixed derandomized profile on CI.
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# Headless Chromium for the pages' tests (the animation, the interactive graph view, notebook outputs).
# The flags keep it off the network, which this machine and CI do not have.
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str | None:
    return os.environ.get("MICROGRADX_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:  # a test dependency (the [test] extra): missing, it is a broken set-up, not a reason to skip
        from playwright import sync_api
    except ImportError:
        pytest.fail("Playwright for Python is not installed: pip install -e '.[test]' (or scripts/dev.py)")
    path = chromium()
    if path is None:
        pytest.skip("no Chromium browser here: install Debian's chromium package (apt-get install chromium) or "
                    "set MICROGRADX_CHROMIUM to a Chromium binary")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
