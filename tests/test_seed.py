"""The seed tutorial (shared/seed/derivatives.txt), verbatim apart from the explicit mode.

The scan-based Jacobian and Hessian sections belong to the scan work (issue E) and are not here.
"""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad as theano
import ccgrad.tensor as T
from ccgrad import MissingInputError, UnusedInputError, function, pp
from tests.tolerance import assert_close

MODES = ["py"]


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def test_computing_gradients(mode):
    x = T.dscalar("x")
    y = x**2
    gy = T.grad(y, x)
    assert pp(gy) == "((fill((x ** 2), 1.0) * 2) * (x ** (2 - 1)))"
    f = function([x], gy, mode=mode)
    out = f(4)
    assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == np.float64
    assert out == 8.0
    assert f(94.2) == 188.4


def test_logistic_gradient(mode):
    x = T.dmatrix("x")
    s = T.sum(1 / (1 + T.exp(-x)))
    gs = T.grad(s, x)
    dlogistic = function([x], gs, mode=mode)
    out = dlogistic([[0, 1], [-1, -2]])
    np.testing.assert_allclose(out, [[0.25, 0.19661193], [0.19661193, 0.10499359]], rtol=0, atol=1e-8)
    v = np.array([[0, 1], [-1, -2]], dtype="float64")
    sig = 1 / (1 + np.exp(-v))
    assert_close(out, sig * (1 - sig))


def test_r_operator(mode):
    W = T.dmatrix("W")
    V = T.dmatrix("V")
    x = T.dvector("x")
    y = T.dot(x, W)
    JV = T.Rop(y, W, V)
    f = theano.function([W, V, x], JV, mode=mode)
    out = f([[1, 1], [1, 1]], [[2, 2], [2, 2]], [0, 1])
    assert_close(out, np.array([2.0, 2.0]))


def test_r_operator_checks_the_evaluation_point_shape(mode):
    W = T.dmatrix("W")
    V = T.dmatrix("V")
    x = T.dvector("x")
    f = theano.function([W, V, x], T.Rop(T.dot(x, W), W, V), mode=mode)
    with pytest.raises(ValueError, match="shape"):
        f([[1, 1], [1, 1]], [[2, 2, 2], [2, 2, 2]], [0, 1])


def test_l_operator(mode):
    W = T.dmatrix("W")
    v = T.dvector("v")
    x = T.dvector("x")
    y = T.dot(x, W)
    VJ = T.Lop(y, W, v)
    # Theano's later docs: the value does not depend on W, so W is not an input.
    f = theano.function([v, x], VJ, mode=mode)
    assert_close(f([2, 2], [0, 1]), np.array([[0.0, 0.0], [2.0, 2.0]]))


def test_l_operator_as_printed_fails_as_in_theano(mode):
    # The printed example compiles `JV` (the R-operator section's graph) with fresh W, v, x.
    W0, V0, x0 = T.dmatrix("W"), T.dmatrix("V"), T.dvector("x")
    JV = T.Rop(T.dot(x0, W0), W0, V0)
    W = T.dmatrix("W")
    v = T.dvector("v")
    x = T.dvector("x")
    y = T.dot(x, W)
    VJ = T.Lop(y, W, v)
    with pytest.raises(MissingInputError, match="not in the inputs list"):
        theano.function([W, v, x], JV, mode=mode)
    # With VJ but W listed: W is not needed to compute VJ.
    with pytest.raises(UnusedInputError, match="W"):
        theano.function([W, v, x], VJ, mode=mode)
    f = theano.function([W, v, x], VJ, mode=mode, on_unused_input="ignore")
    assert_close(f([[1, 1], [1, 1]], [2, 2], [0, 1]), np.array([[0.0, 0.0], [2.0, 2.0]]))


def test_hessian_times_vector_by_grad(mode):
    x = T.dvector("x")
    v = T.dvector("v")
    y = T.sum(x**2)
    gy = T.grad(y, x)
    vH = T.grad(T.sum(gy * v), x)
    f = theano.function([x, v], vH, mode=mode)
    assert_close(f([4, 4], [2, 2]), np.array([4.0, 4.0]))


def test_hessian_times_vector_by_rop(mode):
    x = T.dvector("x")
    v = T.dvector("v")
    y = T.sum(x**2)
    gy = T.grad(y, x)
    Hv = T.Rop(gy, x, v)
    f = theano.function([x, v], Hv, mode=mode)
    assert_close(f([4, 4], [2, 2]), np.array([4.0, 4.0]))


def test_hessian_vector_product_helper(mode):
    x = T.dvector("x")
    v = T.dvector("v")
    Hv = theano.gradient.hessian_vector_product(T.sum(x**2), x, v)
    f = theano.function([x, v], Hv, mode=mode)
    assert_close(f([4, 4], [2, 2]), np.array([4.0, 4.0]))
