"""verify_grad: passes for correct gradients, catches wrong ones with a clear GradientError."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad.tensor as T
from ccgrad import gradient as G
from ccgrad.graph import Apply, Op

MODES = ["py"]


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


class Square(Op):
    """x**2 with a vjp scaled by `factor` (2 is right) and an optional wrong input slot."""

    __props__ = ("factor",)

    def __init__(self, factor: float = 2.0):
        self.factor = factor

    def make_node(self, x, y):
        x, y = T.as_tensor_variable(x), T.as_tensor_variable(y)
        return Apply(self, [x, y], [x.type])

    def perform(self, node, inputs):
        x, y = inputs
        return [x * x + y]

    def vjp(self, node, cotangents):
        (gz,) = cotangents
        return [gz * self.factor * node.inputs[0], gz]

    def jvp(self, node, tangents):
        tx, ty = tangents
        terms = [t for t in (None if tx is None else tx * 2 * node.inputs[0], ty) if t is not None]
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]


RNG_POINT = np.random.default_rng(3)
X = RNG_POINT.uniform(0.5, 1.5, (3, 4))
Y = RNG_POINT.uniform(-1.0, 1.0, (3, 4))


def test_passes_for_correct_gradients(mode):
    G.verify_grad(T.tanh, [X], mode=mode)
    G.verify_grad(lambda a, b: T.sum(a * T.sin(b), axis=0), [X, Y], mode=mode)
    G.verify_grad(lambda a, b: T.dot(a, b.T), [X, Y], mode=mode)
    G.verify_grad(Square(2.0), [X, Y], mode=mode)
    G.verify_grad(lambda a: T.sum(a**2 * T.cos(a)), [X], mode=mode)  # scalar output
    G.verify_grad(lambda a: a.T * 3, [np.asfortranarray(X)], mode=mode)  # non-C layout point


def test_broadcastable_point_axes(mode):
    # pt's length-1 axes become broadcastable, so the driver's summing is exercised.
    row = RNG_POINT.uniform(-1, 1, (1, 4))
    G.verify_grad(lambda r, m: r * m + T.exp(r), [row, X], mode=mode)


def test_float32(mode):
    G.verify_grad(lambda a: T.exp(a) * a, [X.astype("float32")], mode=mode)


def test_catches_a_wrong_gradient(mode):
    with pytest.raises(G.GradientError) as info:
        G.verify_grad(Square(1.0), [X, Y], mode=mode)
    err = info.value
    assert err.arg == 0
    assert err.abs_err > err.abs_tol and err.rel_err > err.rel_tol
    assert err.max_abs_err >= err.abs_err and err.max_rel_err >= err.rel_err
    assert 0 <= err.err_pos < X.size
    msg = str(err)
    assert "input 0" in msg and "abs. error" in msg and "rel. error" in msg and "max over the input" in msg


def test_catches_a_wrong_gradient_in_the_second_input(mode):
    class WrongY(Square):
        def vjp(self, node, cotangents):
            (gz,) = cotangents
            return [gz * 2 * node.inputs[0], gz * 1.01]

    with pytest.raises(G.GradientError) as info:
        G.verify_grad(WrongY(), [X, Y], mode=mode)
    assert info.value.arg == 1


def test_catches_non_finite_gradients(mode):
    class NanGrad(Square):
        def vjp(self, node, cotangents):
            (gz,) = cotangents
            return [gz * 2 * node.inputs[0] * np.nan, gz]

    with pytest.raises(G.GradientError):
        G.verify_grad(NanGrad(), [X, Y], mode=mode)


def test_tolerances_and_eps_are_honoured(mode):
    # A 1% error passes a 5% tolerance and fails the default one.
    with pytest.raises(G.GradientError):
        G.verify_grad(Square(2.02), [X, Y], mode=mode)
    G.verify_grad(Square(2.02), [X, Y], abs_tol=0.05, rel_tol=0.05, mode=mode)
    G.verify_grad(T.sin, [X], eps=1e-4, mode=mode)


def test_rng_forms(mode):
    for rng in (None, 7, np.random.default_rng(1), np.random.RandomState(2)):
        G.verify_grad(T.sin, [X], rng=rng, n_tests=1, mode=mode)


def test_bad_arguments():
    with pytest.raises(TypeError, match="list"):
        G.verify_grad(T.sin, X)
    with pytest.raises(TypeError, match="float"):
        G.verify_grad(T.sin, [np.arange(3)])
    with pytest.raises(TypeError, match="single"):
        G.verify_grad(lambda a: [T.sin(a), T.cos(a)], [X])


def test_numeric_grad():
    g = G.numeric_grad(lambda a, b: float(np.sum(a * a * b)), [X, Y], 1e-6)
    np.testing.assert_allclose(g[0], 2 * X * Y, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(g[1], X * X, rtol=1e-7, atol=1e-8)
