"""The runtime's own float64 exp and tanh (csrc/ccgrad_vmath.h), at the production flags where
gcc vectorizes them, and their plain-libm fallback on a target without AVX-512.

exp's reference is Python's math.exp (glibc's scalar exp, correctly rounded in practice): every
result must be within 1 ulp of it (ccg_exp's own error is about 0.63 ulp, so two roundings
differ by at most one unit).  tanh's reference is numpy's long-double tanh; ccg_tanh is within
~2.0 ulp.  Special values must be exact, and a value must get the same bits whether it lands in
a loop's vector body, its remainder or a scalar call."""

from __future__ import annotations

import math
import subprocess

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad import compile as cc
from ccgrad._paths import csrc_dir
from ccgrad.lower import lower
from tests.test_c_optimized import build_env, production_flags  # noqa: F401  (fixture)


def _own_vmath() -> bool:
    """Do the current flags build ccgrad's own vector math (gcc, x86-64, AVX-512)?  Elsewhere
    exp and tanh are libm's: a few ulp, and libmvec's lanes need not match the scalar libm."""
    probe = ('#include "ccgrad_rt.h"\n#define CCG_WANT_EXP 1\n#include "ccgrad_vmath.h"\n'
             "#ifndef CCG_OWN_VMATH\n#error libm\n#endif\n")
    res = subprocess.run([cc.compiler()[0], *cc.cflags(), "-I", csrc_dir(), "-fsyntax-only", "-x", "c", "-"],
                         input=probe, capture_output=True, text=True, check=False)
    return res.returncode == 0

EDGES = [0.0, -0.0, 1.0, -1.0, 1e-300, -1e-300, 5e-324, 707.99, 708.0, -708.0, 708.0000001,
         -708.0000001, 709.78, 709.79, 710.0, -744.0, -745.1, -745.2, -746.0, 1e5, -1e5,
         1e300, -1e300, np.inf, -np.inf, np.nan]


def _math_exp(t: float) -> float:
    if math.isnan(t):
        return math.nan
    try:
        return math.exp(t)
    except OverflowError:
        return math.inf


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.where(got == want, 0.0, np.abs(got - want) / np.spacing(np.abs(want)))


def _check_exp(f, max_ulps: float = 1.0) -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-745.0, 709.7, 100_000), rng.uniform(-2.0, 2.0, 100_000)])
    want = np.array([_math_exp(t) for t in x])
    got = f(x)
    assert _ulps(got, want).max() <= max_ulps
    edges = np.array(EDGES)
    want = np.array([_math_exp(t) for t in edges])
    got = f(edges)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert (_ulps(got[ok], want[ok]) <= max_ulps).all(), np.c_[edges, got, want]
    # exact where the answer is exact
    assert got[0] == 1.0 and got[1] == 1.0
    assert np.isposinf(got[edges == np.inf]).all() and (got[edges == -np.inf] == 0.0).all()
    assert (got[edges == 710.0] == np.inf).all() and (got[edges == -746.0] == 0.0).all()


def _check_lanes(f, data: np.ndarray) -> None:
    """Every slice (lengths 1..20 at offsets 0..3, and a strided one) gets the bits the whole
    array got: vector body, remainders and scalar calls agree."""
    whole = f(data)
    for start in range(4):
        for n in range(1, 21):
            np.testing.assert_array_equal(f(data[start:start + n]), whole[start:start + n])
    np.testing.assert_array_equal(f(data[::3]), whole[::3])


def test_functions_built_on_exp(production_flags):  # noqa: F811
    x = T.dvector("x")
    m = T.dmatrix("m")
    f = ccgrad.function([x, m], [T.nnet.sigmoid(x), T.nnet.softplus(x), T.nnet.softmax(m),
                                 T.grad(T.sum(1 / (1 + T.exp(-x))), x)])
    xv = np.linspace(-40.0, 40.0, 1001)
    mv = np.random.default_rng(1).normal(size=(7, 13)) * 10
    sig, sp, sm, g = f(xv, mv)
    ref_sig = 1 / (1 + np.exp(-xv))
    np.testing.assert_allclose(sig, ref_sig, rtol=1e-15, atol=0)
    np.testing.assert_allclose(sp, np.logaddexp(0.0, xv), rtol=1e-15, atol=0)
    e = np.exp(mv - mv.max(axis=1, keepdims=True))
    np.testing.assert_allclose(sm, e / e.sum(axis=1, keepdims=True), rtol=1e-14, atol=1e-300)
    # the optimized gradient is s * (1 - s): 1 - s cancels for large x, hence the atol
    np.testing.assert_allclose(g, ref_sig * (1 - ref_sig), rtol=1e-13, atol=1e-16)

TANH_EDGES = [0.0, -0.0, 5e-324, -5e-324, 1e-310, 2.2250738585072014e-308, 1e-20, -1e-8, 0.3, -0.55,
              1.0, 19.9, 20.0, 20.1, 354.0, 1e300, -1e300, np.inf, -np.inf, np.nan]


def _tanh_ulps(got: np.ndarray, x: np.ndarray) -> np.ndarray:
    ref = np.tanh(x.astype(np.longdouble))
    err = np.abs(got.astype(np.longdouble) - ref)
    return (err / np.spacing(np.abs(ref).astype(np.float64)).astype(np.longdouble)).astype(np.float64)


def _check_tanh(f, max_ulps: float) -> None:
    rng = np.random.default_rng(11)
    for lo, hi in [(-1e-6, 1e-6), (-0.2, 0.2), (-1.0, 1.0), (-4.0, 4.0), (-25.0, 25.0)]:
        x = rng.uniform(lo, hi, 100_000)
        assert _tanh_ulps(f(x), x).max() <= max_ulps, (lo, hi)
    edges = np.array(TANH_EDGES)
    got = f(edges)
    want = np.tanh(edges)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert (_tanh_ulps(got[ok], edges[ok]) <= max_ulps).all(), np.c_[edges, got, want]
    np.testing.assert_array_equal(np.signbit(got[ok]), np.signbit(want[ok]))  # tanh(-0.0) is -0.0
    assert (np.abs(got[np.isinf(edges)]) == 1.0).all()

def _exp_data() -> np.ndarray:
    data = np.random.default_rng(3).uniform(-30.0, 30.0, 64)
    data[5] = 709.5  # one lane of a vector takes the edge path
    return data


def _tanh_data() -> np.ndarray:
    data = np.random.default_rng(4).uniform(-6.0, 6.0, 64)
    data[9] = np.nan
    return data


# op, accuracy check, its ulp bound with ccgrad's own code, lane-test data
ACCURACY = {"exp": (T.exp, _check_exp, 1.0, _exp_data),
            "tanh": (T.tanh, _check_tanh, 2.5, _tanh_data)}


@pytest.mark.parametrize("name", sorted(ACCURACY))
def test_accuracy_and_lane_consistency(production_flags, name):  # noqa: F811
    op, check, bound, data = ACCURACY[name]
    x = T.dvector("x")
    f = ccgrad.function([x], op(x))
    own = _own_vmath()
    check(f, bound if own else 4.0)  # libm's vector forms: a few ulp
    if own:
        _check_lanes(f, data())


@pytest.fixture
def baseline_flags(monkeypatch):
    """A baseline x86-64 target: no AVX-512, so exp and tanh are libm's (libmvec's lanes)."""
    if not cc.libmvec_level():
        pytest.skip("glibc x86-64 only")
    yield from build_env(monkeypatch, CCGRAD_CFLAGS="-O2 -std=c99 -fPIC -fno-math-errno -march=x86-64")


def test_without_avx512_exp_and_tanh_are_libm(baseline_flags):
    assert not _own_vmath()
    x = T.dvector("x")
    _check_exp(ccgrad.function([x], T.exp(x)), max_ulps=4.0)  # libmvec: a few ulp
    _check_tanh(ccgrad.function([x], T.tanh(x)), 4.0)


def _kernel_source(f) -> str:
    """The generated kernel of a compiled function (its source after the pasted runtime)."""
    return lower(f.maker.fgraph).source.split("/* ---- generated kernel ---- */")[1]


def test_inlined_8_lane_loops(production_flags):  # noqa: F811
    """Contiguous float64 loops calling exp, tanh or sigmoid run an 8-lane loop with that math
    inlined, then the plain loop for the rest (ccgrad.lower.loops.lanes8_body).  Each value must
    get the bits the out-of-line forms give it: slices of every length and offset, and strided
    views (which take the strided loop, calling the scalar and vector-ABI forms)."""
    x = T.dvector("x")
    s = T.dscalar("s")
    k = T.bscalar("k")
    sig = 1 / (1 + T.exp(-x))
    outs = [T.exp(x), T.tanh(x), T.nnet.sigmoid(x), T.grad(T.sum(sig), x),
            T.exp(x * s) - T.tanh(x) / 3.0,  # a broadcast float64 operand
            T.tanh(x) * k]  # a broadcast int8 operand, converted before the lanes
    f = ccgrad.function([x, s, k], outs)
    src = _kernel_source(f)
    for fn in ("ccg_exp_v8(", "ccg_tanh_v8(", "ccg_sigmoid_v8(", "CCG_V8((double)c_"):
        assert fn in src
    data = np.random.default_rng(9).uniform(-12.0, 12.0, 67)
    data[13] = 709.5  # one lane takes exp's edge path
    whole = f(data, 0.5, 3)
    ref_sig = 1 / (1 + np.exp(-data))
    refs = [np.exp(data), np.tanh(data), ref_sig, ref_sig * (1 - ref_sig),
            np.exp(data * 0.5) - np.tanh(data) / 3.0, np.tanh(data) * 3]
    for got, want in zip(whole, refs):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-300)
    for start in range(4):
        for n in range(1, 41):
            for part, full in zip(f(data[start:start + n], 0.5, 3), whole):
                np.testing.assert_array_equal(part, full[start:start + n])
    for step in (2, 3, -1):
        for part, full in zip(f(data[::step], 0.5, 3), whole):
            np.testing.assert_array_equal(part, full[::step])


def test_8_lane_loops_only_where_they_inline_vector_math():
    """Plain arithmetic (gcc vectorizes it itself), float32, and bodies with a step that has no
    8-lane form (log1p) keep the single plain loop."""
    x = T.dvector("x")
    xf = T.fvector("xf")
    for inputs, out in [([x], x * 2.0 + 1.0), ([xf], T.exp(xf)), ([x], T.log1p(T.exp(x)) * x)]:
        assert "ccg_load_v8(" not in _kernel_source(ccgrad.function(inputs, out)), out
    assert "ccg_load_v8(" in _kernel_source(ccgrad.function([x], T.exp(x) * x))
