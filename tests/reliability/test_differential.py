"""Issue I.6 — differential fuzzing: seeded random graphs over the op set and their gradients,
Rop, Lop, Hessian-vector products and Hessians, compiled in C (many graphs per compiled function)
and compared with the *unoptimized* graph in the reference evaluator, with central finite
differences and with exact AD identities (200 graphs light, 10,000 stress; 0 mismatches)."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from tests.reliability._support import STRESS, record
from tests.reliability.diffcheck import check_batch
from tests.reliability.randgraph import make_batch

GRAPHS_PER_BATCH = 50 if STRESS else 40
N_BATCHES = 200 if STRESS else 5
FIRST_SEED = 1000


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + N_BATCHES))
def test_random_graphs_and_derivatives_match_the_reference(seed):
    dtype = "float32" if seed % 4 == 3 else "float64"
    batch = make_batch(seed, GRAPHS_PER_BATCH, dtype)
    r = check_batch(batch)
    record("differential-batch", seed=seed, dtype=dtype, graphs=r["graphs"], outputs=len(batch.outputs),
           checks=r["checks"], mismatches=len(r["mismatches"]))
    assert not r["mismatches"], "\n".join(m[:500] for m in r["mismatches"][:10])


def test_matmul_broadcasts_a_constant_over_the_batch_axis():
    """MatMul of (n, 2, 1) with a *constant* (1, 1, 2): the constant's batch axis (static length
    1) must be read with stride 0 for every batch; the generated loop used the constant's
    row-major stride (2) and read past it (ASan: global-buffer-overflow; found as garbage in a
    Hessian by the differential fuzzer)."""
    x3 = T.tensor3("x3")
    k = np.array([[[0.7, 1.1]]])
    f = ccgrad.function([x3], T.matmul(x3, T.constant(k)), mode="c")
    x = np.random.default_rng(0).normal(size=(6, 2, 1))
    np.testing.assert_allclose(f(x), np.matmul(x, k), rtol=1e-12)


def test_hessian_through_a_strided_dot_matches_the_reference():
    v = T.dvector("v")
    e = T.dot(v[::2].dimshuffle("x", 0), T.reshape(v, (2, 2)))
    h = T.hessian(T.sum(e * np.array([[0.7, 1.1]])), v)
    x = np.array([0.3, -0.5, 0.9, 1.1])
    want = ccgrad.function([v], h, mode="py", optimize=False)(x)
    got = ccgrad.function([v], h, mode="c")(x)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
