"""A family of small, distinct compiled functions indexed by k (each k gives its own cache key),
with independent numpy references: what the concurrency, crash and corruption tests build."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import ccgrad
import ccgrad.tensor as T

N_TEMPLATES = 5


def graph(k: int):
    """(inputs, output, reference(*args), sample args) of function k."""
    a = 1.0 + (k % 50) / 7.0
    b = float(k % 11) - 5.0
    t = k % N_TEMPLATES
    if t == 0:
        x = T.dvector("x")
        return [x], T.exp(T.tanh(x) * a) + b, (lambda x: np.exp(np.tanh(x) * a) + b), [np.linspace(-2, 2, 9)]
    if t == 1:
        x = T.dmatrix("x")
        return ([x], T.sum(T.tanh(x) * a, axis=1) - b, (lambda x: np.tanh(x).sum(axis=1) * a - b),
                [np.arange(12.0).reshape(3, 4) / 5 - 1])
    if t == 2:
        x, v = T.dmatrix("x"), T.dvector("v")
        return ([x, v], T.dot(x, v) * a + b, (lambda x, v: (x @ v) * a + b),
                [np.arange(6.0).reshape(2, 3) - 2, np.array([0.5, -1.0, 2.0])])
    if t == 3:
        x, i = T.dvector("x"), T.lscalar("i")
        return ([x, i], x[i] * a + x[::-1] * b, (lambda x, i: x[i] * a + x[::-1] * b),
                [np.linspace(0, 1, 5), np.int64(k % 5)])
    x = T.dvector("x")
    return ([x], T.concatenate([x * a, x[1:] - b]), (lambda x: np.concatenate([x * a, x[1:] - b])),
            [np.linspace(-1, 1, 4)])


def build(k: int, mode: str = "c"):
    """(compiled function k, reference, sample args)."""
    ins, out, ref, args = graph(k)
    return ccgrad.function(ins, out, mode=mode), ref, args


def check(f: Callable, ref: Callable, args: list) -> bool:
    """f(*args) equals the numpy reference (DESIGN §8 float64 tolerance)."""
    got = np.asarray(f(*args))
    want = np.asarray(ref(*args))
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-10, atol=1e-12))
