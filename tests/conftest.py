"""Shared fixtures."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from tensorfleet.engine import PROJECT_ROOT, read_stack_config, run_program

ENVIRONMENTS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@functools.cache
def example_run(stack: str):
    """One run of the real program on an example environment, shared by every test that only reads it."""
    config, secret_keys = read_stack_config(stack)
    return run_program(stack, config, secret_keys)


@pytest.fixture(scope="session")
def prod_run():
    """One run of the real program on the prod example environment."""
    return example_run("prod")


@pytest.fixture(scope="session")
def moto_endpoint():
    """A moto server on 127.0.0.1 (a free port), stopped at the end of the session or after 10 minutes."""
    import threading

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    deadline = threading.Timer(600, server.stop)  # bounded even if teardown never runs
    deadline.daemon = True
    deadline.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    deadline.cancel()
    server.stop()


@pytest.fixture
def moto(moto_endpoint, monkeypatch):
    """A clean moto state and dummy credentials that only the moto server accepts."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"), timeout=10)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_endpoint
