"""function() modes: "c" (the default), "py" (the numpy reference), "debug" (both, compared)."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad import function_module as fn_mod


def test_c_is_the_default_mode():
    x = T.dvector("x")
    f = ccgrad.function([x], T.exp(x) * 2)
    assert f.maker.mode == "c"
    np.testing.assert_allclose(f([0.0, 1.0]), [2.0, 2 * np.e])


@pytest.mark.parametrize("mode", ["c", "py", "debug"])
def test_every_mode_gives_the_same_values(mode):
    x = T.dmatrix("x")
    y = T.dvector("y")
    outs = [T.sum(T.tanh(x) * y, axis=1), T.grad(T.sum(T.dot(x, y) ** 2), y)]
    f = ccgrad.function([x, y], outs, mode=mode)
    xv = np.arange(6.0).reshape(2, 3) / 7
    yv = np.array([0.5, -1.0, 2.0])
    want = [np.sum(np.tanh(xv) * yv, axis=1), 2 * xv.T @ (xv @ yv)]
    for g, w in zip(f(xv, yv), want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_debug_mode_raises_on_a_disagreement(monkeypatch):
    real = fn_mod._py_runner

    def wrong_reference(fgraph):
        run = real(fgraph)
        return lambda values, offers=None: [r + 1 for r in run(values)]

    monkeypatch.setattr(fn_mod, "_py_runner", wrong_reference)
    x = T.dvector("x")
    f = ccgrad.function([x], x * 3, mode="debug")
    with pytest.raises(AssertionError, match="differs between C and the reference"):
        f([1.0, 2.0])


def test_unknown_mode_is_refused():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="mode must be one of"):
        ccgrad.function([x], x, mode="fast")
