"""Fixtures of the reliability suite: a private cache root per test."""

from __future__ import annotations

import pytest

from tests.reliability._support import using_root


@pytest.fixture
def fresh_root(tmp_path):
    """A private, empty cache root for one test (this process's ccgrad points at it)."""
    root = tmp_path / "cache"
    with using_root(str(root)):
        yield str(root)
