"""Banded-matrix rewrites (ccgrad.rewrite.structure): Jacobians and Hessians assembled from
identity bases become BandedMatrix nodes, with the same values as the unoptimized graphs."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad.graph import FunctionGraph
from ccgrad.ops.diag import BandedMatrix, Eye
from ccgrad.rewrite import optimize
from ccgrad.rewrite.structure import structure_pass
from tests.tolerance import assert_close


def rosen(x):
    return T.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def stencil(x):
    return T.sum((x[2:] - 2 * x[1:-1] + x[:-2]) ** 2) + T.sum(T.sin(x[1:]) * x[:-1])


def dense(x):
    return T.sum(x) ** 2 + T.sum(x ** 3)


FUNCS = {"rosen": rosen, "stencil": stencil, "dense": dense}


def _ops(outputs, inputs):
    return [type(n.op) for n in optimize(FunctionGraph(inputs, outputs)).toposort()]


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("kind", ["hessian", "hessian_rev", "jacobian_of_grad"])
@pytest.mark.parametrize("mode", ["py", "c"])
def test_structured_matches_unoptimized(name, kind, mode):
    x = T.dvector("x")
    c = FUNCS[name](x)
    if kind == "hessian":
        out = T.hessian(c, x)
    elif kind == "hessian_rev":
        out = T.hessian(c, x, vectorize="reverse")
    else:
        out = T.jacobian(T.grad(c, x), x)
    ref = ccgrad.function([x], out, mode="py", optimize=False)
    f = ccgrad.function([x], out, mode=mode)
    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 3, 7, 40):
        a = rng.uniform(-1.5, 1.5, size=n)
        want = ref(a)
        assert_close(f(a), want, scale=np.maximum(np.abs(want), 1.0), what=f"{name} n={n}")


def test_rosenbrock_hessian_is_one_banded_matrix():
    x = T.dvector("x")
    ops = _ops([T.hessian(rosen(x), x)], [x])
    assert ops.count(BandedMatrix) == 1 and Eye not in ops


def test_jacobian_of_square_is_diagonal():
    x = T.dvector("x")
    ops = _ops([T.jacobian(x ** 2, x)], [x])
    assert BandedMatrix in ops and Eye not in ops
    f = ccgrad.function([x], T.jacobian(x ** 2, x), mode="c")
    np.testing.assert_array_equal(f([4.0, 4.0]), [[8.0, 0.0], [0.0, 8.0]])


def test_banded_matrix_op_checks_lengths():
    n = T.lscalar("n")
    v = T.dvector("v")
    for mode in ("py", "c"):
        f = ccgrad.function([n, v], T.banded(n, n, {1: v}), mode=mode)
        np.testing.assert_array_equal(f(3, [1.0, 2.0]), np.diag([1.0, 2.0], 1))
        with pytest.raises(ValueError, match="diagonal 1"):
            f(3, [1.0, 2.0, 3.0])


def test_pass_is_identity_without_eye():
    x = T.dvector("x")
    out = [T.grad(rosen(x), x)]
    assert structure_pass([x], out) == out
