"""A sample of the op table compiled with the production flags (-O3 -march=native, vector
math), since the rest of the suite builds at -O0 for speed: optimization-dependent bugs
(aliasing, vectorized loops, undefined behaviour) show up only here."""

from __future__ import annotations

import pytest

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


@pytest.fixture
def production_flags(monkeypatch):
    monkeypatch.setenv("CCGRAD_TEST_BUILD", "0")
    options.reload_options()
    cache.reset()
    yield
    monkeypatch.undo()
    options.reload_options()
    cache.reset()


def test_sample_with_production_flags(production_flags):
    assert "-O3" in " ".join(cache.toolchain_parts()["flags"].split())
    _check([Prepared(c) for c in SAMPLE])
