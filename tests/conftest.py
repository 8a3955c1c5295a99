"""Hypothesis profiles: ``ci`` (the default) is derandomised, so every run tries the same examples;
``dev`` explores new ones; ``long`` is what ``bench/fuzz.py`` uses. Choose with HYPOTHESIS_PROFILE."""

from __future__ import annotations

import logging
import os

import pytest
from hypothesis import HealthCheck, settings

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True, suppress_health_check=_SLOW_OK)
settings.register_profile("dev", deadline=None, print_blob=True, suppress_health_check=_SLOW_OK)
settings.register_profile("long", deadline=None, max_examples=2_000, suppress_health_check=_SLOW_OK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _drop_cli_log_handler():
    """A CLI run under CliRunner leaves its stderr handler on the ``aigc_biz`` logger, bound to a
    stream the runner then closes; a later test's log line would print a 'Logging error' trace."""
    yield
    logger = logging.getLogger("aigc_biz")
    for handler in [h for h in logger.handlers if getattr(h, "_aigc_biz_handler", False)]:
        logger.removeHandler(handler)
