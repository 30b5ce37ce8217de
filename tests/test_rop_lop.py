"""Rop and Lop against a numerically built Jacobian (Rop(f, x, v) == J @ v, Lop(f, x, u) == u @ J)
for every op-table case and for random composite graphs; second derivatives of composites; the
shape rules and argument forms; and a check that no built-in op needs the double-vjp fallback."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ccgrad
import ccgrad.tensor as T
from ccgrad import gradient as G
from ccgrad.graph import Op, TensorType
from tests.optable import all_cases, assert_fd_close, build, fd_jvp, fd_vjp
from tests.tolerance import assert_close

MODES = ["py"]

CASES = all_cases()
GRAD_CASES = [c for c in CASES if c.can_grad()]
IDS = [c.id for c in GRAD_CASES]


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def _fn(inputs, outputs, mode):
    return ccgrad.function(inputs, outputs, mode=mode, on_unused_input="ignore")


def numeric_jacobian(fn, values, idx, eps=1e-6):
    """J[o][k]: d out_o / d values[idx[k]] as a (out size, input size) matrix, central differences."""
    values = [np.array(v, dtype=v.dtype, order="C", copy=True) for v in values]
    outs = [np.asarray(o, dtype="float64") for o in fn(*values)]
    jac = [[np.zeros((o.size, values[i].size)) for i in idx] for o in outs]
    for k, i in enumerate(idx):
        flat = values[i].reshape(-1)
        for e in range(flat.size):
            orig = flat[e]
            flat[e] = orig + eps
            hi = [np.asarray(o, dtype="float64").reshape(-1) for o in fn(*values)]
            flat[e] = orig - eps
            lo = [np.asarray(o, dtype="float64").reshape(-1) for o in fn(*values)]
            flat[e] = orig
            for o in range(len(outs)):
                jac[o][k][:, e] = (hi[o] - lo[o]) / (2 * eps)
    return outs, jac


def _case_setup(case, mode):
    inputs, outs = build(case)
    fouts = [o for o in outs if o.dtype in ("float32", "float64")]
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    values = [np.asarray(a.make(rng)).reshape(a.shape) for a in case.args]  # 0-d stays 0-d
    idx = case.grad_args()
    fwd = _fn(inputs, fouts, mode)
    return inputs, fouts, values, idx, fwd, rng


def _fd_params(case, fouts) -> tuple[float, float]:
    """(eps, tol): float32 outputs round at ~1e-7, so they need a longer step and a looser check."""
    if any(o.dtype == "float32" for o in fouts):
        return 1e-3, max(case.fd_tol, 1e-3)
    return 1e-6, case.fd_tol


@pytest.mark.parametrize("case", GRAD_CASES, ids=IDS)
def test_rop_is_jacobian_times_vector(case, mode):
    inputs, fouts, values, idx, fwd, rng = _case_setup(case, mode)
    if not fouts:
        pytest.skip("no float outputs")
    eps, tol = _fd_params(case, fouts)
    outs, jac = numeric_jacobian(fwd, values, idx, eps)
    tangents = [rng.uniform(-1, 1, size=values[i].shape) for i in idx]
    tvars = [TensorType("float64", shape=inputs[i].type.shape)(f"t{i}") for i in idx]
    r = G.Rop(fouts, [inputs[i] for i in idx], tvars, disconnected_outputs="ignore")
    got = _fn(inputs + tvars, r, mode)(*values, *tangents)
    for o, (out, g) in enumerate(zip(outs, got)):
        want = sum(jac[o][k] @ t.reshape(-1) for k, t in enumerate(tangents)).reshape(out.shape)
        assert_fd_close(g, want, tol, f"{case.id}: Rop output {o}")


@pytest.mark.parametrize("case", GRAD_CASES, ids=IDS)
def test_lop_is_vector_times_jacobian(case, mode):
    inputs, fouts, values, idx, fwd, rng = _case_setup(case, mode)
    if not fouts:
        pytest.skip("no float outputs")
    eps, tol = _fd_params(case, fouts)
    outs, jac = numeric_jacobian(fwd, values, idx, eps)
    us = [rng.uniform(-1, 1, size=o.shape) for o in outs]
    uvars = [TensorType("float64", shape=(None,) * o.ndim)(f"u{i}") for i, o in enumerate(fouts)]
    wrt = [inputs[i] for i in idx]
    lop = G.Lop(fouts, wrt, uvars, disconnected_inputs="ignore")
    assert isinstance(lop, list) and len(lop) == len(wrt)
    got = _fn(inputs + uvars, lop, mode)(*values, *us)
    for k, i in enumerate(idx):
        want = sum(u.reshape(-1) @ jac[o][k] for o, u in enumerate(us)).reshape(values[i].shape)
        assert_fd_close(got[k], want, tol, f"{case.id}: Lop wrt arg {i}")


def _no_fallback(node, tangents):
    raise AssertionError(f"{node.op} has no jvp rule: Rop fell back to the double-vjp construction")


@pytest.mark.parametrize("case", GRAD_CASES, ids=IDS)
def test_no_builtin_op_needs_the_double_vjp_fallback(case, monkeypatch):
    monkeypatch.setattr(G, "_double_vjp", _no_fallback)
    inputs, outs = build(case)
    fouts = [o for o in outs if o.dtype in ("float32", "float64")]
    if not fouts:
        pytest.skip("no float outputs")
    wrt = [inputs[i] for i in case.grad_args()]
    tvars = [w.type() for w in wrt]
    G.Rop(fouts, wrt, tvars, disconnected_outputs="ignore")
    # The gradient graph's ops too (forward-over-reverse).
    cost = sum(T.sum(o) for o in fouts)
    g = G.grad(cost, wrt, disconnected_inputs="ignore")
    G.Rop(g, wrt, tvars, disconnected_outputs="ignore")


def test_every_op_class_and_scalar_row_has_a_jvp():
    import ccgrad.ops  # noqa: F401
    from ccgrad.ops.scalar import SCALAR_OPS

    missing_rows = [name for name, sop in SCALAR_OPS.items() if sop.jvp is None or sop.vjp is None]
    assert not missing_rows, f"scalar rows without vjp/jvp: {missing_rows}"

    def walk(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    missing = sorted({c.__name__ for c in walk(Op)
                      if c.__module__.startswith("ccgrad.ops") and not getattr(c, "abstract", False)
                      and (c.jvp is Op.jvp or c.vjp is Op.vjp)})
    assert not missing, f"ops without their own vjp/jvp: {missing}"


def test_the_fallback_itself_is_correct(mode):
    """An op with only a vjp still gets a correct Rop through the double-vjp construction."""

    class Cube(Op):
        def make_node(self, x):
            x = T.as_tensor_variable(x)
            return ccgrad.graph.Apply(self, [x], [x.type])

        def perform(self, node, inputs):
            return [inputs[0] ** 3]

        def vjp(self, node, cotangents):
            return [cotangents[0] * 3 * node.inputs[0] ** 2]

    x, v = T.dvector("x"), T.dvector("v")
    r = G.Rop(Cube()(x) * 2, x, v)
    out = _fn([x, v], r, mode)(np.array([1.0, -2.0]), np.array([0.5, 1.0]))
    assert_close(out, 2 * 3 * np.array([1.0, 4.0]) * np.array([0.5, 1.0]))


# --------------------------------------------------------------------------------------------- composites

_UNARY = [
    ("tanh", lambda a: T.tanh(a)),
    ("sin", lambda a: T.sin(a)),
    ("cos", lambda a: T.cos(a)),
    ("sigmoid", lambda a: 1 / (1 + T.exp(-a))),
    ("sqr", lambda a: a * a),
    ("log1p_sq", lambda a: T.log1p(a * a)),
    ("center", lambda a: a - T.mean(a)),
    ("neg", lambda a: -a),
]
_BINARY = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("scale_by_sum", lambda a, b: a * T.sum(b)),
    ("div", lambda a, b: a / (1 + b * b)),
    ("outer_sum", lambda a, b: T.sum(a.dimshuffle(0, "x") * b.dimshuffle("x", 0), axis=0)),
]
_MATRIX = [("matvec", lambda a, m: T.dot(m, a)), ("vecmat", lambda a, m: T.dot(a, m))]
_OPS = ([(n, 1, f) for n, f in _UNARY] + [(n, 2, f) for n, f in _BINARY] + [(n, 3, f) for n, f in _MATRIX])

_steps = st.lists(st.tuples(st.integers(0, len(_OPS) - 1), st.integers(0, 64), st.integers(0, 64)),
                  min_size=3, max_size=6)


def _composite(steps):
    x, y, m = T.dvector("x"), T.dvector("y"), T.dmatrix("m")
    pool = [x, y]
    names = []
    for k, ia, ib in steps:
        name, arity, fn = _OPS[k]
        a, b = pool[ia % len(pool)], pool[ib % len(pool)]
        pool.append(fn(a) if arity == 1 else fn(a, b) if arity == 2 else fn(a, m))
        names.append(name)
    rng = np.random.default_rng(0)
    values = [rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3), rng.uniform(-1, 1, (3, 3))]
    return [x, y, m], pool[-1], values, names


@settings(max_examples=12, deadline=None, derandomize=True)
@given(_steps)
def test_composites_rop_lop_against_numeric_jacobian(steps):
    for mode in MODES:
        _check_composite_rop_lop(steps, mode)


def _check_composite_rop_lop(steps, mode):
    inputs, out, values, names = _composite(steps)
    fwd = _fn(inputs, [out], mode)
    outs, jac = numeric_jacobian(fwd, values, [0, 1, 2])
    rng = np.random.default_rng(1)
    ts = [rng.uniform(-1, 1, v.shape) for v in values]
    tvars = [v.type() for v in inputs]
    r = G.Rop(out, inputs, tvars, disconnected_outputs="ignore")
    got = _fn(inputs + tvars, r, mode)(*values, *ts)
    want = sum(jac[0][k] @ t.reshape(-1) for k, t in enumerate(ts)).reshape(outs[0].shape)
    assert_fd_close(got, want, 1e-5, f"composite {names}: Rop")
    u = rng.uniform(-1, 1, outs[0].shape)
    uvar = T.dvector("u")
    lop = G.Lop(out, inputs, uvar, disconnected_inputs="ignore")
    got = _fn(inputs + [uvar], lop, mode)(*values, u)
    for k, v in enumerate(values):
        assert_fd_close(got[k], (u @ jac[0][k]).reshape(v.shape), 1e-5, f"composite {names}: Lop wrt {k}")


@settings(max_examples=10, deadline=None, derandomize=True)
@given(_steps)
def test_composites_second_derivatives(steps):
    for mode in MODES:
        _check_composite_second_order(steps, mode)


def _check_composite_second_order(steps, mode):
    inputs, out, values, names = _composite(steps)
    rng = np.random.default_rng(2)
    proj = T.constant(rng.uniform(0.5, 1.5, 3))
    g = G.grad(T.sum(out * proj), inputs, disconnected_inputs="ignore")
    gfun = _fn(inputs, g, mode)
    # grad of grad (reverse over reverse)
    ws = [rng.uniform(0.5, 1.5, v.shape) for v in values]
    gg = G.grad(sum(T.sum(gi * T.constant(w)) for gi, w in zip(g, ws)), inputs, disconnected_inputs="ignore")
    analytic = _fn(inputs, gg, mode)(*values)
    numeric = fd_vjp(lambda *v: [np.asarray(a) for a in gfun(*v)], values, [0, 1, 2], ws)
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        assert_fd_close(a, n, 1e-4, f"composite {names}: grad of grad wrt {k}")
    # Rop of grad (forward over reverse): the Hessian-vector product
    ts = [rng.uniform(-1, 1, v.shape) for v in values]
    tvars = [v.type() for v in inputs]
    hv = G.hessian_vector_product(T.sum(out * proj), inputs, tvars, disconnected_inputs="ignore")
    analytic = _fn(inputs + tvars, hv, mode)(*values, *ts)
    numeric = fd_jvp(lambda *v: gfun(*v), values, [0, 1, 2], ts)
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        assert_fd_close(a, n, 1e-4, f"composite {names}: Rop of grad, block {k}")
    # Rop of Rop (forward over forward): d2 out [t, s]
    s_vals = [rng.uniform(-1, 1, v.shape) for v in values]
    svars = [v.type() for v in inputs]
    r1 = G.Rop(out, inputs, tvars, disconnected_outputs="ignore")
    r2 = G.Rop(r1, inputs, svars, disconnected_outputs="ignore")
    analytic = _fn(inputs + tvars + svars, r2, mode)(*values, *ts, *s_vals)
    r1fun = _fn(inputs + tvars, r1, mode)
    numeric = fd_jvp(lambda *v: [np.asarray(r1fun(*v[:3], *ts))], values, [0, 1, 2], s_vals)[0]
    assert_fd_close(analytic, numeric, 1e-4, f"composite {names}: Rop of Rop")


# --------------------------------------------------------------------------------------------- forms


def test_rop_and_lop_argument_forms(mode):
    x = T.dvector("x")
    y, z = T.sin(x), T.exp(x)
    v = T.dvector("v")
    assert isinstance(G.Rop(y, x, v), ccgrad.tensor.Variable)
    assert isinstance(G.Rop([y, z], x, v), list)
    assert isinstance(G.Rop((y, z), [x], [v]), tuple)
    assert isinstance(G.Lop(y, x, v), ccgrad.tensor.Variable)
    assert isinstance(G.Lop([y, z], [x], [v, v]), list)
    assert isinstance(G.Lop(y, (x,), v), tuple)
    with pytest.raises(ValueError, match="dimensionality"):
        G.Rop(y, x, T.dmatrix("V"))
    with pytest.raises(ValueError, match="dimensionality"):
        G.Lop(y, x, T.dscalar("u"))
    with pytest.raises(ValueError):
        G.Rop(y, [x, x], [v])
    with pytest.raises(ValueError):
        G.Lop([y, z], x, [v])
    with pytest.raises(TypeError):
        G.Rop(y, {x}, [v])


def test_rop_of_a_wrt_is_its_evaluation_point(mode):
    x, v = T.dvector("x"), T.dvector("v")
    out = _fn([x, v], G.Rop(x, x, v), mode)(np.ones(2), np.array([3.0, 4.0]))
    assert_close(out, np.array([3.0, 4.0]))


def test_rop_disconnected_outputs(mode):
    x, y, v = T.dvector("x"), T.dvector("y"), T.dvector("v")
    with pytest.raises(G.DisconnectedInputError):
        G.Rop(T.sin(y), x, v)
    with pytest.raises(G.DisconnectedInputError):
        G.Rop(T.cast(T.shape(x), "float64"), x, v)
    with pytest.warns(UserWarning):
        G.Rop(T.sin(y), x, v, disconnected_outputs="warn")
    assert G.Rop(T.sin(y), x, v, disconnected_outputs="ignore", return_disconnected="None") is None
    zero = G.Rop(T.sin(y), x, v, disconnected_outputs="ignore")
    assert_close(_fn([y], zero, mode)(np.ones(3)), np.zeros(3))
    # Connected through a zero-derivative op: zeros, no error.
    floor = G.Rop(T.floor(x) + T.sin(y), x, v)
    assert_close(_fn([x, y, v], floor, mode)(np.ones(2) * 0.5, np.ones(2), np.ones(2)), np.zeros(2))


def test_lop_sums_contributions_of_several_outputs(mode):
    x = T.dvector("x")
    y = T.sin(x)
    z = T.exp(y)
    u, w = T.dvector("u"), T.dvector("w")
    lop = G.Lop([y, z], x, [u, w])
    xv, uv, wv = np.array([0.2, -0.4]), np.array([1.0, 2.0]), np.array([-1.0, 0.5])
    want = uv * np.cos(xv) + wv * np.exp(np.sin(xv)) * np.cos(xv)
    assert_close(_fn([x, u, w], lop, mode)(xv, uv, wv), want)


def test_rop_keeps_wrt_in_the_graph_and_checks_shapes(mode):
    W, V, x = T.dmatrix("W"), T.dmatrix("V"), T.dvector("x")
    jv = G.Rop(T.dot(x, W), W, V)
    f = ccgrad.function([W, V, x], jv, mode=mode)  # W is an input although the value ignores it
    assert_close(f(np.ones((2, 3)), np.full((2, 3), 2.0), np.array([0.0, 1.0])), np.full(3, 2.0))
    with pytest.raises(ValueError, match="shape"):
        f(np.ones((2, 3)), np.full((3, 2), 2.0), np.array([0.0, 1.0]))


def test_rop_static_shape_mismatch_is_caught_at_build_time():
    x = T.TensorType("float64", shape=(3,))("x")
    with pytest.raises(ValueError, match="static shape"):
        G.Rop(T.sin(x), x, T.TensorType("float64", shape=(4,))("v"))


def test_hessian_vector_product_lists(mode):
    x, y = T.dvector("x"), T.dvector("y")
    vx, vy = T.dvector("vx"), T.dvector("vy")
    cost = T.sum(x * x * y)
    hv = G.hessian_vector_product(cost, [x, y], [vx, vy])
    assert isinstance(hv, list) and len(hv) == 2
    xv, yv, a, b = (np.array(t) for t in ([1.0, 2.0], [3.0, -1.0], [0.5, 1.0], [2.0, -1.0]))
    hx, hy = _fn([x, y, vx, vy], hv, mode)(xv, yv, a, b)
    # H = [[2 diag(y), 2 diag(x)], [2 diag(x), 0]]
    assert_close(hx, 2 * yv * a + 2 * xv * b)
    assert_close(hy, 2 * xv * a)
