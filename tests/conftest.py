"""Test session set-up: one private cache root per test run, shared by all xdist workers."""

import os
import tempfile

import pytest


def pytest_configure(config):
    # The controller (or a plain run) picks the cache root; xdist workers inherit the variables.
    if not hasattr(config, "workerinput") and os.environ.get("CCGRAD_TEST_OWN_CACHE") != "1":
        os.environ["CCGRAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="ccgrad-test-cache-")
        os.environ["CCGRAD_TEST_OWN_CACHE"] = "1"
    os.environ.setdefault("CCGRAD_TEST_BUILD", "1")
    from ccgrad import options

    options.reload_options()


def pytest_unconfigure(config):
    # The controller removes the run's cache root (workers share it, so only the controller).
    if not hasattr(config, "workerinput") and os.environ.get("CCGRAD_TEST_OWN_CACHE") == "1":
        import shutil

        root = os.environ.get("CCGRAD_CACHE_DIR", "")
        if os.path.basename(root).startswith("ccgrad-test-cache-"):
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(1234)
