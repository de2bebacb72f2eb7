"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tensorfleet.engine import PROJECT_ROOT, read_stack_config, run_program

ENVIRONMENTS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def prod_run():
    """One run of the real program on the prod example environment."""
    config, secret_keys = read_stack_config("prod")
    return run_program("prod", config, secret_keys)
