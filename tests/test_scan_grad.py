"""Differentiation through scan: first, second and third derivatives (grad of grad of grad), Rop
and Rop of grad, each against central finite differences, for every kind of loop — with respect
to sequences, initial states and non-sequences — plus until, truncate_gradient, nested loops and
the seed's Jacobian/Hessian forms."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad import gradient
from ccgrad.graph import TensorType, toposort
from ccgrad.ops.scan import Scan
from ccgrad.scan_module import scan, until
from tests.optable import assert_fd_close, fd_jvp, fd_vjp
from tests.tolerance import assert_close

MODES = ["py"]  # add "c" once the C backend lowers Scan


def _outs(f, v):
    r = f(*v)
    return [np.asarray(x) for x in (r if isinstance(r, list) else [r])]


def check_derivatives(build, values, mode, wrt=None, orders=3, tol=1e-5, seed=0):
    """Check d^k/dx^k of projected outputs of build(*inputs) against finite differences of the
    (k-1)-th derivative, for k = 1..orders, plus Rop and Rop of grad."""
    rng = np.random.default_rng(seed)
    values = [np.asarray(v, dtype="float64") for v in values]
    inputs = [TensorType("float64", shape=(None,) * v.ndim)(f"in{i}") for i, v in enumerate(values)]
    idx = list(range(len(values))) if wrt is None else list(wrt)
    ws = [inputs[i] for i in idx]
    out = build(*inputs)
    outs = out if isinstance(out, list | tuple) else [out]
    kw = {"mode": mode, "on_unused_input": "ignore"}
    fwd = ccgrad.function(inputs, list(outs), **kw)
    shapes = [o.shape for o in _outs(fwd, values)]
    prev_fn, prev_shapes = fwd, shapes
    cur = list(outs)
    for order in range(1, orders + 1):
        projs = [rng.uniform(0.5, 1.5, size=s) for s in prev_shapes]
        cost = sum(T.sum(c * T.constant(p)) for c, p in zip(cur, projs))
        g = gradient.grad(cost, ws, disconnected_inputs="ignore")
        gf = ccgrad.function(inputs, g, **kw)
        analytic = _outs(gf, values)
        numeric = fd_vjp(lambda *v, f=prev_fn: _outs(f, v), values, idx, projs)
        for a, n, i in zip(analytic, numeric, idx):
            assert_fd_close(a, n, tol * 10 ** (order - 1), f"order {order}, input {i}")
        if order == 1:
            first, first_fn = g, gf
        prev_fn, prev_shapes, cur = gf, [a.shape for a in analytic], g
    # forward mode: Rop of the outputs, and Rop of the gradient (a Hessian-vector product)
    tangents = [rng.uniform(-1, 1, size=values[i].shape) for i in idx]
    tvars = [TensorType("float64", shape=(None,) * values[i].ndim)(f"t{i}") for i in idx]
    r = gradient.Rop(list(outs), ws, tvars, disconnected_outputs="ignore")
    analytic = _outs(ccgrad.function(inputs + tvars, r, **kw), values + tangents)
    for a, n in zip(analytic, fd_jvp(lambda *v: _outs(fwd, v), values, idx, tangents)):
        assert_fd_close(a, n, tol, "Rop")
    if orders >= 2:
        hv = gradient.Rop(first, ws, tvars, disconnected_outputs="ignore")
        analytic = _outs(ccgrad.function(inputs + tvars, hv, **kw), values + tangents)
        for a, n in zip(analytic, fd_jvp(lambda *v: _outs(first_fn, v), values, idx, tangents)):
            assert_fd_close(a, n, 10 * tol, "Rop of grad")


def n_scans(outputs) -> int:
    return sum(isinstance(n.op, Scan) for n in toposort(list(outputs)))


# ---------------------------------------------------------------------------------------------
# each loop kind, three orders


@pytest.mark.parametrize("mode", MODES)
def test_cumulative_sum(mode):
    """Nonlinear cumulative loop, w.r.t. the sequence and the initial state."""
    def build(x, h0):
        out, _ = scan(lambda x_t, acc: acc * T.cos(x_t) + x_t ** 2, sequences=x, outputs_info=h0)
        return out

    check_derivatives(build, [[0.3, -0.5, 0.8, 0.1], 0.7], mode)


@pytest.mark.parametrize("mode", MODES)
def test_power_by_repeated_multiplication(mode):
    """A**k: A is the non-sequence and (through ones_like) the initial state's shape."""
    k = 4

    def build(A):
        res, _ = scan(lambda prior, A: prior * A, outputs_info=T.ones_like(A), non_sequences=A, n_steps=k)
        return res[-1]

    check_derivatives(build, [[0.9, 1.2, -0.7]], mode)


@pytest.mark.parametrize("mode", MODES)
def test_two_taps_recurrence(mode):
    """x[t] = c * x[t-1] + sin(x[t-2]): w.r.t. the two-row initial history and c."""
    def build(x0, c):
        out, _ = scan(lambda a, b, c: c * b + T.sin(a), outputs_info=dict(initial=x0, taps=[-2, -1]),
                      non_sequences=c, n_steps=5)
        return out

    check_derivatives(build, [[0.4, -0.3], 0.6], mode)


@pytest.mark.parametrize("mode", MODES)
def test_sparse_taps_recurrence(mode):
    """Taps [-3, -1] (tap -2 unused): the adjoint window must skip the gap correctly."""
    def build(x0):
        out, _ = scan(lambda a, b: 0.5 * a * b + 0.3, outputs_info=dict(initial=x0, taps=[-3, -1]), n_steps=5)
        return out

    check_derivatives(build, [[0.4, -0.3, 0.9]], mode)


@pytest.mark.parametrize("mode", MODES)
def test_n_steps_without_sequences(mode):
    """Logistic map x <- r x (1 - x): w.r.t. r (non-sequence) and x0 (initial state)."""
    def build(x0, r):
        out, _ = scan(lambda x, r: r * x * (1 - x), outputs_info=x0, non_sequences=r, n_steps=4)
        return out

    check_derivatives(build, [0.3, 2.5], mode)


@pytest.mark.parametrize("mode", MODES)
def test_until(mode):
    """Gradients flow through the executed steps only; the condition is not differentiated."""
    def build(p0, f):
        out, _ = scan(lambda p, f: (p * f, until(p * f > 5.0)), outputs_info=p0, non_sequences=f, n_steps=50)
        return out

    check_derivatives(build, [1.1, 1.5], mode)  # 1.65, 2.48, 3.71, 5.57: far from the threshold
    p0 = T.dscalar("p0")
    out, _ = scan(lambda p: (p * 2, until(p * 2 > 5.0)), outputs_info=p0, n_steps=50)
    g = ccgrad.function([p0], T.grad(out.sum(), p0), mode=mode)
    assert_close(g(1.0), 2 + 4 + 8)  # three steps ran: 2, 4, 8


@pytest.mark.parametrize("mode", MODES)
def test_sequence_taps_and_go_backwards(mode):
    def build(x):
        out, _ = scan(lambda a, b, acc: acc * a + T.tanh(b), sequences=dict(input=x, taps=[-1, 1]),
                      outputs_info=T.constant(0.2), go_backwards=True)
        return out

    check_derivatives(build, [[0.3, -0.5, 0.8, 0.1, 0.6]], mode)


@pytest.mark.parametrize("mode", MODES)
def test_several_outputs_and_map_outputs(mode):
    def build(x, h0, w):
        (s, y, p), _ = scan(lambda x_t, s, p, w: (s + x_t * w, T.exp(s) * x_t, p * T.sin(x_t + w)), sequences=x,
                            outputs_info=[h0, None, T.ones_like(h0)], non_sequences=w)
        return [s, y, p]

    check_derivatives(build, [[0.3, -0.5, 0.8], 0.2, 0.9], mode)


@pytest.mark.parametrize("mode", MODES)
def test_rnn_gradient_wrt_W(mode):
    """h_t = tanh(W h_{t-1} + x_t); gradients w.r.t. W, the inputs and h0."""
    rng = np.random.default_rng(3)

    def build(W, X, h0):
        hs, _ = scan(lambda x_t, h, W: T.tanh(T.dot(W, h) + x_t), sequences=X, outputs_info=h0, non_sequences=W)
        return T.sum(hs[-1] ** 2) + T.sum(hs)

    vals = [rng.uniform(-0.6, 0.6, (3, 3)), rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, 3)]
    check_derivatives(build, vals, mode)
    check_derivatives(build, vals, mode, wrt=[0], orders=2)


@pytest.mark.parametrize("mode", MODES)
def test_nested_scan(mode):
    def build(M, c):
        def row_fn(row, c):
            s, _ = scan(lambda x, acc, c: acc * c + T.sin(x), sequences=row, outputs_info=T.constant(0.0),
                        non_sequences=c)
            return s[-1]

        out, _ = scan(row_fn, sequences=M, non_sequences=c)
        return out

    check_derivatives(build, [[[0.3, -0.5], [0.8, 0.1], [0.2, 0.4]], 0.7], mode, orders=2)


@pytest.mark.parametrize("mode", MODES)
def test_int_carry_alongside(mode):
    """An integer counter carried next to a float state: no gradient through it, no error."""
    def build(x):
        (_, acc), _ = scan(lambda x_t, c, a: (c + 1, a * 0.5 + x_t ** 2 * T.cast(c, "float64")), sequences=x,
                           outputs_info=[T.constant(np.int64(1)), T.constant(0.0)])
        return acc

    check_derivatives(build, [[0.3, -0.5, 0.8]], mode)


# ---------------------------------------------------------------------------------------------
# the seed's forms, differentiated further


@pytest.mark.parametrize("mode", MODES)
def test_seed_jacobian_differentiated(mode):
    """J(x) of y = sin(x) * x**2 in the seed's scan form; its derivatives are y's 2nd and 3rd."""
    def build(x):
        y = T.sin(x) * x ** 2
        J, _ = scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]), non_sequences=[y, x])
        return J

    check_derivatives(build, [[0.3, -0.5, 0.8]], mode, orders=2)
    x = T.dvector("x")
    J = build(x)
    xv = np.array([0.3, -0.5, 0.8])
    want = np.diag(np.cos(xv) * xv ** 2 + 2 * xv * np.sin(xv))
    assert_close(ccgrad.function([x], J, mode=mode)(xv), want)


@pytest.mark.parametrize("mode", MODES)
def test_seed_hessian_of_rosenbrock(mode):
    def rosen(x):
        return T.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    def build(x):
        gy = T.grad(rosen(x), x)
        H, _ = scan(lambda i, gy, x: T.grad(gy[i], x), sequences=T.arange(gy.shape[0]), non_sequences=[gy, x])
        return H

    xv = np.array([0.5, -0.3, 0.8, 1.1])
    x = T.dvector("x")
    got = ccgrad.function([x], build(x), mode=mode)(xv)
    want = np.zeros((4, 4))
    for i in range(3):
        want[i, i] += 1200 * xv[i] ** 2 - 400 * xv[i + 1] + 2
        want[i, i + 1] += -400 * xv[i]
        want[i + 1, i] += -400 * xv[i]
        want[i + 1, i + 1] += 200
    assert_close(got, want, rtol=1e-12)
    check_derivatives(build, [xv], mode, orders=1, tol=1e-4)  # third derivatives of Rosenbrock


# ---------------------------------------------------------------------------------------------
# truncate_gradient, dtypes, structure


@pytest.mark.parametrize("mode", MODES)
def test_truncate_gradient(mode):
    v, h0 = T.dvector("v"), T.dscalar("h0")
    r, _ = scan(lambda x, h: h * 0.5 + x, sequences=v, outputs_info=h0, truncate_gradient=2)
    gv, gh = ccgrad.function([v, h0], T.grad(r[-1], [v, h0]), mode=mode)([1.0, 2.0, 3.0, 4.0], 1.0)
    assert_close(gv, [0.0, 0.0, 0.5, 1.0])  # only the last two steps are back-propagated
    assert_close(gh, 0.0)
    r, _ = scan(lambda x, h: h * 0.5 + x, sequences=v, outputs_info=h0, truncate_gradient=10)
    gv, gh = ccgrad.function([v, h0], T.grad(r[-1], [v, h0]), mode=mode)([1.0, 2.0, 3.0, 4.0], 1.0)
    assert_close(gv, [0.125, 0.25, 0.5, 1.0])
    assert_close(gh, 0.0625)


@pytest.mark.parametrize("mode", MODES)
def test_float32_gradients(mode):
    x = T.fvector("x")
    out, _ = scan(lambda x_t, acc: acc * x_t + 1, sequences=x, outputs_info=T.constant(np.float32(0.5)))
    g = T.grad(out.sum(), x)
    assert g.dtype == "float32"
    xv = np.array([0.3, -0.5, 0.8], dtype="float32")
    x64 = T.dvector("x64")
    out64, _ = scan(lambda x_t, acc: acc * x_t + 1, sequences=x64, outputs_info=T.constant(0.5))
    want = ccgrad.function([x64], T.grad(out64.sum(), x64), mode=mode)(xv.astype("float64"))
    assert_close(ccgrad.function([x], g, mode=mode)(xv), want.astype("float32"), dtype="float32")


@pytest.mark.parametrize("mode", MODES)
def test_gradient_wrt_longer_sequence_and_implicit_inputs(mode):
    """n_steps shorter than the sequence: rows never read get zero gradient; an outer variable
    used implicitly (not passed as a non-sequence) gets its gradient too."""
    v, w = T.dvector("v"), T.dscalar("w")
    out, _ = scan(lambda x_t: T.sin(x_t * w), sequences=v, n_steps=2)
    gv, gw = ccgrad.function([v, w], T.grad(out.sum(), [v, w]), mode=mode)([0.1, 0.2, 0.3], 2.0)
    assert_close(gv, [2 * np.cos(0.2), 2 * np.cos(0.4), 0.0])
    assert_close(gw, 0.1 * np.cos(0.2) + 0.2 * np.cos(0.4))


def test_grad_is_a_backward_scan():
    """The gradient is one more Scan (no unrolling): forward + backward loops only."""
    W, X, h0 = T.dmatrix("W"), T.dmatrix("X"), T.dvector("h0")
    hs, _ = scan(lambda x_t, h, W: T.tanh(T.dot(W, h) + x_t), sequences=X, outputs_info=h0, non_sequences=W)
    g = T.grad(hs.sum(), W)
    assert n_scans([g]) == 2
    backward = [n for n in toposort([g]) if isinstance(n.op, Scan) and n is not hs.owner]
    assert backward[0].op.name == "grad_of_scan_fn"


def test_disconnected_and_integer_inputs():
    v = T.dvector("v")
    n = T.lscalar("n")
    out, _ = scan(lambda x_t: x_t * 2, sequences=v, n_steps=n)
    with pytest.raises(gradient.DisconnectedInputError):
        T.grad(out.sum(), n)
    idx = T.lvector("idx")
    out, _ = scan(lambda i, v: v[i] ** 2, sequences=idx, non_sequences=v)
    g = ccgrad.function([idx, v], T.grad(out.sum(), v), mode="py")([0, 0, 2], [1.0, 2.0, 3.0])
    assert_close(g, [4.0, 0.0, 6.0])
