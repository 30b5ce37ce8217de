"""A sample of the op table compiled with the production flags (-O3 -march=native, vector
math), since the rest of the suite builds at -O0 for speed: optimization-dependent bugs
(aliasing, vectorized loops, undefined behaviour) show up only here."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad import cache, options
from tests.test_c_backend import CASES, Prepared, _check

# One case per op family (the first of each id prefix), at most 24: -O3 compiles are slow.
_SEEN: set[str] = set()
SAMPLE = []
for _c in CASES:
    _prefix = _c.id.split("_")[0]
    if _prefix not in _SEEN:
        _SEEN.add(_prefix)
        SAMPLE.append(_c)
SAMPLE = SAMPLE[:: max(1, len(SAMPLE) // 24)][:24] + [c for c in CASES if c.id.startswith("scan")][:2]


def build_env(monkeypatch, **env: str):
    """Generator for fixtures: builds under these environment settings, then back."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    options.reload_options()
    cache.reset()
    yield
    monkeypatch.undo()
    options.reload_options()
    cache.reset()


@pytest.fixture
def production_flags(monkeypatch):
    yield from build_env(monkeypatch, CCGRAD_TEST_BUILD="0")


def test_sample_with_production_flags(production_flags):
    assert "-O3" in " ".join(cache.toolchain_parts()["flags"].split())
    _check([Prepared(c) for c in SAMPLE])


def test_in_place_loops_vectorized_correctly(production_flags):
    """Outputs written over their inputs (a dying temporary, a donated shared variable) get
    `#pragma GCC ivdep` so gcc vectorizes them; every length through the vector body and its
    remainders must still give numpy's values."""
    x = T.dvector("x")
    a = T.dmatrix("a")
    y = T.tanh(T.dot(a, x) + 1.0)  # the product's temporary dies into tanh: written in place
    f = ccgrad.function([a, x], T.dot(a.T, y))
    w = ccgrad.shared(np.zeros(1), name="w")
    g = ccgrad.function([x], [], updates=[(w, T.tanh(w) * x + 1.0)])
    rng = np.random.default_rng(5)
    for n in [*range(1, 41), 1000, 1001]:
        xv = rng.normal(size=n)
        av = rng.normal(size=(n + 3, n)) / np.sqrt(n)
        np.testing.assert_allclose(f(av, xv), av.T @ np.tanh(av @ xv + 1.0), rtol=1e-12, atol=1e-14)
        w.set_value(rng.normal(size=n))
        before = w.get_value()
        g(xv)
        np.testing.assert_allclose(w.get_value(), np.tanh(before) * xv + 1.0, rtol=1e-14, atol=1e-15)
