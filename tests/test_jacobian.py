"""jacobian and hessian: values against finite differences (elementwise, dot-based, Rosenbrock;
vector and matrix wrt; list/tuple wrt), both vectorized sweeps (reverse and forward) on every
op-table case, Theano's shapes and return types, disconnected inputs, the in-graph identity
basis, and agreement with the scan construction (vectorize=False) once scan exists."""

from __future__ import annotations

import importlib.util
import zlib

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad import gradient as G
from ccgrad.graph import Constant, toposort
from ccgrad.jacobian import _choose_mode
from tests.optable import all_cases, build
from tests.tolerance import assert_close

HAVE_SCAN = importlib.util.find_spec("ccgrad.ops.scan") is not None
needs_scan = pytest.mark.skipif(not HAVE_SCAN, reason="ccgrad/ops/scan.py (scan, items 1-3 of issue E) "
                                "does not exist yet; vectorize=False builds a scan")
SWEEPS = ["reverse", "forward"]


def _fn(inputs, outputs):
    return ccgrad.function(inputs, outputs, mode="py", on_unused_input="ignore")


def numeric_jacobian(fn, values, i, eps=1e-6):
    """d fn(values) / d values[i] by central differences, shape out.shape + values[i].shape."""
    values = [np.array(v, copy=True, order="C") for v in values]  # C order: reshape(-1) is a view
    values[i] = values[i].astype("float64")
    out = np.asarray(fn(*values), dtype="float64")
    jac = np.zeros(out.shape + values[i].shape)
    flat = values[i].reshape(-1)
    jflat = jac.reshape(out.shape + (flat.size,))
    for k in range(flat.size):
        orig = flat[k]
        flat[k] = orig + eps
        hi = np.asarray(fn(*values), dtype="float64")
        flat[k] = orig - eps
        lo = np.asarray(fn(*values), dtype="float64")
        flat[k] = orig
        jflat[..., k] = (hi - lo) / (2 * eps)
    return jac


def assert_fd(analytic, numeric, tol=1e-6, what=""):
    a, n = np.asarray(analytic), np.asarray(numeric)
    assert a.shape == n.shape, f"{what}: shape {a.shape} != {n.shape}"
    err = np.abs(a - n)
    bad = err > tol * (1 + np.abs(n))
    assert not bad.any(), f"{what}: max abs err {err.max():.3g}\nanalytic={a}\nnumeric={n}"


def rosenbrock(x):
    return T.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_hessian(v):
    n = v.size
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200 * v[i] ** 2 - 400 * v[i + 1] + 2
        h[i + 1, i + 1] += 200
        h[i, i + 1] = h[i + 1, i] = -400 * v[i]
    return h


# ---------------------------------------------------------------------------------------------
# Jacobians of hand-picked functions


@pytest.mark.parametrize("sweep", SWEEPS)
def test_seed_jacobian_and_hessian(sweep):
    x = T.dvector("x")
    y = x ** 2
    assert_close(_fn([x], G.jacobian(y, x, vectorize=sweep))([4, 4]), [[8.0, 0.0], [0.0, 8.0]])
    assert_close(_fn([x], G.hessian(y.sum(), x, vectorize=sweep))([4, 4]), [[2.0, 0.0], [0.0, 2.0]])


@pytest.mark.parametrize("sweep", SWEEPS)
def test_elementwise_vector(sweep):
    x = T.dvector("x")
    y = T.exp(x) * T.sin(x) + x[::-1] ** 3
    J = G.jacobian(y, x, vectorize=sweep)
    xv = np.random.default_rng(0).uniform(-1, 1, 5)
    f = _fn([x], y)
    assert_fd(_fn([x], J)(xv), numeric_jacobian(f, [xv], 0), what="elementwise")


@pytest.mark.parametrize("sweep", SWEEPS)
def test_matrix_expression_matrix_wrt(sweep):
    X = T.dmatrix("X")
    y = T.tanh(X) * X.sum(axis=0)
    J = G.jacobian(y, X, vectorize=sweep)
    xv = np.random.default_rng(1).uniform(-1, 1, (2, 3))
    got = _fn([X], J)(xv)
    assert got.shape == (2, 3, 2, 3)
    assert_fd(got, numeric_jacobian(_fn([X], y), [xv], 0), what="matrix wrt")


@pytest.mark.parametrize("sweep", SWEEPS)
def test_dot_based_list_and_tuple_wrt(sweep):
    W = T.dmatrix("W")
    x = T.dvector("x")
    b = T.dvector("b")
    y = T.tanh(T.dot(W, x) + b)
    rng = np.random.default_rng(2)
    wv, xv, bv = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=4)
    f = _fn([W, x, b], y)
    Js = G.jacobian(y, [W, x, b], vectorize=sweep)
    assert isinstance(Js, list) and len(Js) == 3
    got = _fn([W, x, b], Js)(wv, xv, bv)
    assert [g.shape for g in got] == [(4, 4, 3), (4, 3), (4, 4)]
    for i, g in enumerate(got):
        assert_fd(g, numeric_jacobian(f, [wv, xv, bv], i), what=f"dot wrt {i}")
    Jt = G.jacobian(y, (W, x), vectorize=sweep)
    assert isinstance(Jt, tuple) and len(Jt) == 2
    single = G.jacobian(y, x, vectorize=sweep)
    assert single.ndim == 2
    assert_close(_fn([W, x, b], single)(wv, xv, bv), got[1])


@pytest.mark.parametrize("sweep", SWEEPS)
def test_rosenbrock_hessian(sweep):
    x = T.dvector("x")
    H = G.hessian(rosenbrock(x), x, vectorize=sweep)
    xv = np.random.default_rng(3).uniform(-1.5, 1.5, 7)
    got = _fn([x], H)(xv)
    assert_close(got, rosenbrock_hessian(xv))
    g = _fn([x], G.grad(rosenbrock(x), x))
    assert_fd(got, numeric_jacobian(g, [xv], 0), tol=1e-5, what="rosenbrock hessian")


@pytest.mark.parametrize("sweep", SWEEPS)
def test_hessian_matrix_and_list_wrt(sweep):
    X = T.dmatrix("X")
    v = T.dvector("v")
    cost = T.sum(T.tanh(T.dot(X, v)) ** 2) + T.sum(X ** 3) * T.sum(v ** 2)
    rng = np.random.default_rng(4)
    xv, vv = rng.normal(size=(2, 3)), rng.normal(size=3)
    Hs = G.hessian(cost, [X, v], vectorize=sweep)
    assert isinstance(Hs, list)
    hx, hv = _fn([X, v], Hs)(xv, vv)
    assert hx.shape == (2, 3, 2, 3) and hv.shape == (3, 3)
    gfun = _fn([X, v], G.grad(cost, [X, v]))
    assert_fd(hx, numeric_jacobian(lambda a, b: gfun(a, b)[0], [xv, vv], 0), tol=1e-5, what="hessian X")
    assert_fd(hv, numeric_jacobian(lambda a, b: gfun(a, b)[1], [xv, vv], 1), tol=1e-5, what="hessian v")
    assert_close(hx.reshape(6, 6), hx.reshape(6, 6).T, rtol=1e-9, atol=1e-12)


def test_sweeps_agree():
    x = T.dvector("x")
    A = T.dmatrix("A")
    y = T.sin(T.dot(A, x)) * T.sum(x ** 2)
    rng = np.random.default_rng(5)
    av, xv = rng.normal(size=(6, 4)), rng.normal(size=4)
    rev, fwd = (_fn([A, x], G.jacobian(y, [A, x], vectorize=s))(av, xv) for s in SWEEPS)
    for r, f in zip(rev, fwd):
        assert_close(r, f, rtol=1e-12, atol=1e-13)


def test_zero_d_expression_is_grad():
    x = T.dvector("x")
    c = T.sum(x ** 3)
    assert G.jacobian(c, x) .ndim == 1
    got = _fn([x], G.jacobian(c, [x]))(np.array([1.0, 2.0]))
    assert isinstance(G.jacobian(c, [x]), list)
    assert_close(got[0], [3.0, 12.0])


def test_consider_constant():
    x = T.dvector("x")
    c = x ** 2
    y = x * c
    xv = np.array([1.0, 2.0, 3.0])
    for sweep in SWEEPS:
        J = _fn([x], G.jacobian(y, x, consider_constant=[c], vectorize=sweep))(xv)
        assert_close(J, np.diag(xv ** 2), what=sweep)


def test_disconnected_inputs():
    x = T.dvector("x")
    z = T.dvector("z")
    y = x * 2
    for sweep in SWEEPS:
        with pytest.raises(G.DisconnectedInputError):
            G.jacobian(y, z, vectorize=sweep)
        J = G.jacobian(y, [x, z], disconnected_inputs="ignore", vectorize=sweep)
        got = _fn([x, z], J)(np.ones(3), np.ones(2))
        assert_close(got[1], np.zeros((3, 2)))
        with pytest.warns(UserWarning):
            G.jacobian(y, z, disconnected_inputs="warn", vectorize=sweep)
    # connected through a non-differentiable path only: zero Jacobian, no error with 'ignore'
    with pytest.raises(G.DisconnectedInputError):
        G.jacobian(x * T.cast(z.shape[0], "float64"), z)


def test_integer_expression_and_bad_arguments():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="vectorize"):
        G.jacobian(x * 2, x, vectorize="sideways")
    with pytest.raises(TypeError):
        G.jacobian(x * 2, {x})
    with pytest.raises(TypeError, match="scalar"):
        G.hessian(x * 2, x)


def test_tall_jacobian_goes_forward():
    x = T.vector("x", dtype="float64", shape=(3,))
    y = T.concatenate([x, x ** 2, T.sin(x)])
    assert _choose_mode(y, [x]) == "forward"
    assert _choose_mode(T.sum(x) * x, [x]) == "reverse"
    J = G.jacobian(y, x)
    xv = np.array([0.1, 0.2, 0.3])
    assert_fd(_fn([x], J)(xv), numeric_jacobian(_fn([x], y), [xv], 0))


def test_identity_basis_is_not_a_constant():
    """The basis is an Eye node of the graph (generated in the loops), not an n x n constant."""
    for shape in ((None,), (50,)):
        x = T.vector("x", dtype="float64", shape=shape)
        for J in (G.jacobian(x ** 2, x), G.hessian(rosenbrock(x), x),
                  G.jacobian(x ** 2, x, vectorize="forward")):
            nodes = toposort([J])
            assert any(type(n.op).__name__ == "Eye" for n in nodes)
            big = [v for n in nodes for v in n.inputs if isinstance(v, Constant) and v.data.size > 50]
            assert not big, f"a large constant in the Jacobian graph: {big[0].type!r}"
    # and the optimizer does not fold it into one
    x = T.vector("x", dtype="float64", shape=(300,))
    f = ccgrad.function([x], G.jacobian(x ** 2, x), mode="py")
    consts = [v for n in f.maker.fgraph.toposort() for v in n.inputs if isinstance(v, Constant)]
    assert all(c.data.size < 300 for c in consts)


def test_T_facade():
    x = T.dvector("x")
    assert_close(_fn([x], T.jacobian(x ** 2, x))([1.0, 2.0]), np.diag([2.0, 4.0]))
    assert_close(_fn([x], T.hessian(T.sum(x ** 3), x))([1.0, 2.0]), np.diag([6.0, 12.0]))


def test_c_backend_matches_py():
    """The vectorized forms compiled to C (skipped while some op on the way has no C emission)."""
    x = T.dvector("x")
    W = T.dmatrix("W")
    outs = [G.jacobian(x ** 2, x), G.hessian(rosenbrock(x), x), G.jacobian(T.tanh(T.dot(W, x)), W),
            G.hessian(rosenbrock(x), x, vectorize="reverse")]
    rng = np.random.default_rng(10)
    xv, wv = rng.uniform(-1, 1, 6), rng.normal(size=(3, 6))
    try:
        fc = ccgrad.function([x, W], outs, mode="c", on_unused_input="ignore")
    except NotImplementedError as exc:  # LoweringError: an op without C emission
        pytest.skip(f"C backend: {exc}")
    for c, p in zip(fc(xv, wv), _fn([x, W], outs)(xv, wv)):
        assert_close(c, p, rtol=1e-12, atol=1e-12)


def test_third_order():
    """jacobian of a hessian (vectorization nested over vectorization)."""
    x = T.dvector("x")
    H = G.hessian(T.sum(T.sin(x) * x[0]), x)
    D3 = G.jacobian(H, x)
    xv = np.array([0.3, -0.7, 1.1])
    got = _fn([x], D3)(xv)
    assert got.shape == (3, 3, 3)
    assert_fd(got, numeric_jacobian(_fn([x], H), [xv], 0), tol=1e-5)


# ---------------------------------------------------------------------------------------------
# Every op-table case: both vectorized sweeps against finite differences

GRAD_CASES = [c for c in all_cases() if c.can_grad()]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.id for c in GRAD_CASES])
def test_op_table_jacobians(case):
    inputs, outs = build(case)
    idx = case.grad_args()
    rng = np.random.default_rng(zlib.crc32(case.id.encode()) + 11)
    values = [np.asarray(a.make(rng)).reshape(a.shape) if a.value is None else a.make(rng) for a in case.args]
    fouts = [o for o in outs if o.dtype == "float64"]
    wrt = [inputs[i] for i in idx]
    for k, o in enumerate(fouts):
        f = _fn(inputs, o)
        numeric = [numeric_jacobian(f, values, i) for i in idx]
        for sweep in SWEEPS:
            J = G.jacobian(o, wrt, disconnected_inputs="ignore", vectorize=sweep)
            got = _fn(inputs, J)(*values)
            for i, g, n in zip(idx, got, numeric):
                assert_fd(g, n, tol=case.fd_tol, what=f"{case.id}: output {k}, {sweep} jacobian wrt arg {i}")


SECOND_CASES = [c for c in GRAD_CASES if c.second]


@pytest.mark.parametrize("case", SECOND_CASES, ids=[c.id for c in SECOND_CASES])
def test_op_table_hessians(case):
    """Hessian of a random projection of each case's outputs, both sweeps, against finite
    differences of the gradient (batch rules applied to vjp and jvp graphs)."""
    inputs, outs = build(case)
    idx = case.grad_args()
    rng = np.random.default_rng(zlib.crc32(case.id.encode()) + 12)
    values = [np.asarray(a.make(rng)).reshape(a.shape) if a.value is None else a.make(rng) for a in case.args]
    fouts = [o for o in outs if o.dtype == "float64"]
    shapes = [np.shape(v) for v in _fn(inputs, fouts)(*values)]
    cost = sum(T.sum(o * T.constant(rng.uniform(0.5, 1.5, s))) for o, s in zip(fouts, shapes))
    wrt = [inputs[i] for i in idx]
    gfun = _fn(inputs, G.grad(cost, wrt, disconnected_inputs="ignore"))
    for k, i in enumerate(idx):
        numeric = numeric_jacobian(lambda *v, k=k: gfun(*v)[k], values, i)
        for sweep in SWEEPS:
            H = G.hessian(cost, wrt[k], disconnected_inputs="ignore", vectorize=sweep)
            assert_fd(_fn(inputs, H)(*values), numeric, tol=10 * case.fd_tol,
                      what=f"{case.id}: {sweep} hessian wrt arg {i}")


# ---------------------------------------------------------------------------------------------
# The scan construction (vectorize=False)


def _scan(*args, **kw):
    from ccgrad.ops.scan import scan

    return scan(*args, **kw)


def _kinds(outputs) -> set[str]:
    return {type(n.op).__name__ for n in toposort(list(outputs))}


def _unoptimized(inputs, outputs):
    """py mode without rewrites: the scan really loops (the jacobian pass would replace it)."""
    return ccgrad.function(inputs, outputs, mode="py", optimize=False, on_unused_input="ignore")


@needs_scan
def test_scan_form_agrees():
    x = T.dvector("x")
    W = T.dmatrix("W")
    y = T.tanh(T.dot(W, x)) * x.sum()
    rng = np.random.default_rng(6)
    wv, xv = rng.normal(size=(3, 4)), rng.normal(size=4)
    scan_j = G.jacobian(y, [W, x], vectorize=False)
    assert "Scan" in _kinds(scan_j)
    for sweep in SWEEPS:
        vec = _fn([W, x], G.jacobian(y, [W, x], vectorize=sweep))(wv, xv)
        scn = _unoptimized([W, x], scan_j)(wv, xv)
        for a, b in zip(vec, scn):
            assert_close(b, a, rtol=1e-12, atol=1e-14)
        Hv = _fn([x], G.hessian(rosenbrock(x), x, vectorize=sweep))(xv)
        Hs = _unoptimized([x], G.hessian(rosenbrock(x), x, vectorize=False))(xv)
        assert_close(Hs, Hv, rtol=1e-12, atol=1e-12)
    X = T.dmatrix("X")
    ym = T.tanh(X) * X.sum(axis=0)
    xm = rng.normal(size=(2, 3))
    assert_close(_unoptimized([X], G.jacobian(ym, X, vectorize=False))(xm), _fn([X], G.jacobian(ym, X))(xm),
                 rtol=1e-12, atol=1e-14)


@needs_scan
def test_seed_scan_form_verbatim():
    x = T.dvector("x")
    y = x ** 2
    J, updates = _scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]), non_sequences=[y, x])
    f = ccgrad.function([x], J, updates=updates, mode="py")
    assert_close(f([4, 4]), [[8.0, 0.0], [0.0, 8.0]])
    cost = y.sum()
    gy = T.grad(cost, x)
    H, updates = _scan(lambda i, gy, x: T.grad(gy[i], x), sequences=T.arange(gy.shape[0]), non_sequences=[gy, x])
    f = ccgrad.function([x], H, updates=updates, mode="py")
    assert_close(f([4, 4]), [[2.0, 0.0], [0.0, 2.0]])


# ---------------------------------------------------------------------------------------------
# The pattern rewrite (ccgrad/rewrite/jacobian.py): the seed's loops become vectorized


def _seed_forms(x):
    y = x ** 2
    J, _ = _scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]), non_sequences=[y, x])
    gy = T.grad(rosenbrock(x), x)
    H, _ = _scan(lambda i, gy, x: T.grad(gy[i], x), sequences=T.arange(gy.shape[0]), non_sequences=[gy, x])
    gs = T.grad(T.sum(x ** 2), x)
    Hs, _ = _scan(lambda i, gy, x: T.grad(gy[i], x), sequences=T.arange(gs.shape[0]), non_sequences=[gs, x])
    return {"jacobian": J, "rosenbrock hessian": H, "seed hessian": Hs}


@needs_scan
@pytest.mark.parametrize("static", [False, True])
def test_pattern_rewrite_seed_forms(static):
    from ccgrad.rewrite.jacobian import jacobian_pass

    x = T.TensorType("float64", shape=(6,) if static else (None,))("x")
    xv = np.random.default_rng(7).uniform(-1.5, 1.5, 6)
    for name, loop in _seed_forms(x).items():
        assert "Scan" in _kinds([loop])
        (new,) = jacobian_pass([x], [loop])
        kinds = _kinds([new])
        assert "Scan" not in kinds and "Eye" in kinds, f"{name}: not rewritten ({sorted(kinds)})"
        assert new.type == loop.type
        assert_close(_unoptimized([x], new)(xv), _unoptimized([x], loop)(xv), rtol=1e-12, atol=1e-12, what=name)


@needs_scan
def test_pattern_rewrite_theano_jacobian_list_and_matrix():
    from ccgrad.rewrite.jacobian import jacobian_pass

    x = T.dvector("x")
    W = T.dmatrix("W")
    X = T.dmatrix("X")
    outs = [*G.jacobian(T.tanh(T.dot(W, x)), [W, x], vectorize=False),
            G.jacobian(T.tanh(X) * 2, X, vectorize=False)]
    new = jacobian_pass([W, x, X], outs)
    assert "Scan" not in _kinds(new)
    rng = np.random.default_rng(8)
    vals = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(2, 3))]
    for a, b in zip(_unoptimized([W, x, X], new)(*vals), _unoptimized([W, x, X], outs)(*vals)):
        assert_close(a, b, rtol=1e-12, atol=1e-14)


@needs_scan
def test_pattern_rewrite_leaves_other_loops_alone():
    from ccgrad.rewrite.jacobian import jacobian_pass

    x = T.dvector("x")
    y = x ** 2
    others = [
        _scan(lambda i, y, x: T.grad(y[i], x) * 2, sequences=T.arange(y.shape[0]), non_sequences=[y, x])[0],
        _scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(1, y.shape[0]), non_sequences=[y, x])[0],
        _scan(lambda i, y, x: T.grad(y[i] ** 2, x), sequences=T.arange(y.shape[0]), non_sequences=[y, x])[0],
        _scan(lambda i, x: x[i] * 2, sequences=T.arange(x.shape[0]), non_sequences=[x])[0],
        # rows of one vector, gradients of another of the same length
        _scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]), non_sequences=[T.sin(x), x])[0],
    ]
    new = jacobian_pass([x], others)
    assert all(a is b for a, b in zip(new, others))


@needs_scan
def test_pattern_rewrite_in_pipeline():
    """Once the optimizer runs the pass (first), compiled seed loops contain no Scan."""
    from ccgrad import rewrite
    from ccgrad.rewrite.jacobian import jacobian_pass

    if not any(step is jacobian_pass for _, step in rewrite.PIPELINE):
        pytest.skip('ccgrad/rewrite/__init__.py does not run the jacobian pass yet (add ("jacobian", '
                    "jacobian_pass) first in PIPELINE)")
    x = T.dvector("x")
    xv = np.random.default_rng(9).uniform(-1, 1, 5)
    for name, loop in _seed_forms(x).items():
        f = ccgrad.function([x], loop, mode="py")
        assert "Scan" not in {type(n.op).__name__ for n in f.maker.fgraph.toposort()}, name
        assert_close(f(xv), _unoptimized([x], loop)(xv), rtol=1e-12, atol=1e-12, what=name)
