"""Linear algebra beyond the op table: Hessians through dot, the tutorial's Rop/Lop examples,
dtype promotion against numpy, error messages, batch rules of Dot and MatMul against loops,
infer_shape and printing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad.graph import TensorType, builder, toposort
from ccgrad.ops.linalg import Dot, MatMul
from ccgrad.printing import pp
from tests.tolerance import assert_close

RNG = np.random.default_rng(3)


def _f(inputs, outputs):
    return ccgrad.function(inputs, outputs, mode="py", on_unused_input="ignore")


def test_hessian_of_sum_dot_squared():
    """cost = sum(dot(x, W)**2): grad_x = 2 W W^T x, Hessian_x = 2 W W^T, for x vector and
    matrix, forward-over-reverse and reverse-over-reverse; and the W-Hessian along V."""
    x, W, v, V = T.dvector("x"), T.dmatrix("W"), T.dvector("v"), T.dmatrix("V")
    cost = T.sum(T.dot(x, W) ** 2)
    gx = T.grad(cost, x)
    gW = T.grad(cost, W)
    hv_fwd = T.Rop(gx, x, v)
    hv_rev = T.grad(T.sum(gx * v), x)
    hW = T.Rop(gW, W, V)
    xv, Wv, vv, Vv = RNG.normal(size=3), RNG.normal(size=(3, 4)), RNG.normal(size=3), RNG.normal(size=(3, 4))
    g, h1, h2, hw = _f([x, W, v, V], [gx, hv_fwd, hv_rev, hW])(xv, Wv, vv, Vv)
    H = 2 * Wv @ Wv.T
    assert_close(g, H @ xv)
    assert_close(h1, H @ vv)
    assert_close(h2, H @ vv)
    assert_close(hw, 2 * np.outer(xv, xv @ Vv))
    # full Hessian, one Rop per basis vector
    hf = _f([x, W, v], hv_fwd)
    full = np.stack([hf(xv, Wv, e) for e in np.eye(3)], axis=1)
    assert_close(full, H)


def test_hessian_matrix_input():
    X, W, V = T.dmatrix("X"), T.dmatrix("W"), T.dmatrix("V")
    cost = T.sum(T.dot(X, W) ** 2)
    hv = T.Rop(T.grad(cost, X), X, V)
    Xv, Wv, Vv = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 4)), RNG.normal(size=(2, 3))
    assert_close(_f([X, W, V], hv)(Xv, Wv, Vv), 2 * Vv @ Wv @ Wv.T)


def test_tutorial_rop_lop():
    W, V, x, v = T.dmatrix("W"), T.dmatrix("V"), T.dvector("x"), T.dvector("v")
    y = T.dot(x, W)
    jv = _f([W, V, x], T.Rop(y, W, V))([[1, 1], [1, 1]], [[2, 2], [2, 2]], [0, 1])
    assert_close(jv, np.array([2.0, 2.0]))
    vj = _f([W, v, x], T.Lop(y, W, v))([[1, 1], [1, 1]], [2, 2], [0, 1])
    assert_close(vj, np.array([[0.0, 0.0], [2.0, 2.0]]))


DTYPES = ["bool", "int8", "uint8", "int16", "int32", "int64", "float32", "float64"]


@pytest.mark.parametrize("da,db", list(itertools.product(DTYPES, repeat=2)))
def test_dot_dtype_promotion_matches_numpy(da, db):
    a, b = T.tensor(dtype=da, shape=(None, None)), T.tensor(dtype=db, shape=(None,))
    av, bv = np.ones((2, 3), dtype=da), np.ones(3, dtype=db)
    want = np.dot(av, bv)
    out = T.dot(a, b)
    assert out.dtype == want.dtype.name
    got = _f([a, b], out)(av, bv)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_static_inner_mismatch_names_operands_and_shapes():
    a = T.tensor(dtype="float64", shape=(2, 3), name="a")
    b = T.tensor(dtype="float64", shape=(4, 5), name="b")
    with pytest.raises(ValueError, match=r"dot: inner dimensions differ: a of shape \(2, 3\).*b of shape \(4, 5\)"):
        T.dot(a, b)
    with pytest.raises(ValueError, match=r"dot"):
        a @ b


def test_runtime_inner_mismatch_names_both_shapes():
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = _f([a, b], T.dot(a, b))
    with pytest.raises(ValueError, match=r"dot: inner dimensions differ: shapes \(2, 3\) and \(4, 5\)"):
        f(np.ones((2, 3)), np.ones((4, 5)))
    g = _f([a, b], T.matmul(a.dimshuffle("x", 0, 1), b.dimshuffle("x", 0, 1)))
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ: shapes \(1, 2, 3\) and \(1, 4, 5\)"):
        g(np.ones((2, 3)), np.ones((4, 5)))


def test_rank_errors():
    with pytest.raises(TypeError, match="dot: the first operand must be 1-d or 2-d"):
        Dot().make_node(T.dtensor3(), T.dmatrix())
    with pytest.raises(TypeError, match="MatMul"):
        MatMul().make_node(T.dmatrix(), T.dmatrix())
    with pytest.raises(ValueError, match="matmul: operands must not be scalars"):
        T.matmul(T.dscalar(), T.dvector())
    with pytest.raises(TypeError, match="batched_dot"):
        T.batched_dot(T.dvector(), T.dmatrix())


def test_matmul_of_matrices_is_dot_and_scalars_multiply():
    a, b = T.dmatrix("a"), T.dmatrix("b")
    assert isinstance((a @ b).owner.op, Dot)
    ops = {type(n.op).__name__ for n in toposort([T.dot(T.dscalar("s"), b)])}
    assert "Dot" not in ops and "MatMul" not in ops


def test_static_shapes():
    a = T.tensor(dtype="float64", shape=(2, None))
    b = T.tensor(dtype="float64", shape=(None, 5))
    assert T.dot(a, b).type.shape == (2, 5)
    assert T.dot(T.tensor(dtype="float64", shape=(3,)), b).type.shape == (5,)
    assert T.dot(T.dvector(), T.dvector()).type.shape == ()
    c = T.tensor(dtype="float64", shape=(1, 2, 3))
    d = T.tensor(dtype="float64", shape=(4, 3, 6))
    assert T.matmul(c, d).type.shape == (4, 2, 6)
    assert T.matmul(c, T.dvector()).type.shape == (1, 2)


def _check_batch(out, values, batched):
    """Apply the op's batch rule to inputs with a leading batch axis where `batched` says and
    compare with a per-item loop."""
    node = out.owner
    new_inputs, vals = [], []
    nb = 3
    for inp, v, bflag in zip(node.inputs, values, batched):
        if bflag:
            new_inputs.append(TensorType(inp.dtype, shape=(None,) * (inp.ndim + 1))())
            vals.append(np.stack([v * (k + 1) for k in range(nb)]))
        else:
            new_inputs.append(TensorType(inp.dtype, shape=(None,) * inp.ndim)())
            vals.append(v)
    outs, flags = node.op.batch(node, new_inputs, list(batched))
    assert flags == [True]
    got = _f(new_inputs, outs[0])(*vals)
    per_item = _f(list(node.inputs), out)
    want = np.stack([per_item(*[vv[k] if bf else vv for vv, bf in zip(vals, batched)]) for k in range(nb)])
    assert_close(got, want)


SHAPES = {1: (3,), 2: (2, 3)}
SHAPES_B = {1: (3,), 2: (3, 4)}


@pytest.mark.parametrize("na,nb", [(1, 1), (1, 2), (2, 1), (2, 2)])
@pytest.mark.parametrize("batched", [(True, False), (False, True), (True, True)])
def test_dot_batch_rule(na, nb, batched):
    a = T.TensorType("float64", shape=(None,) * na)("a")
    b = T.TensorType("float64", shape=(None,) * nb)("b")
    out = T.dot(a, b)
    assert isinstance(out.owner.op, Dot)
    _check_batch(out, [RNG.normal(size=SHAPES[na]), RNG.normal(size=SHAPES_B[nb])], batched)


@pytest.mark.parametrize("batched", [(True, False), (False, True), (True, True)])
def test_matmul_batch_rule(batched):
    a, b = T.dtensor3("a"), T.dtensor3("b")
    out = T.matmul(a, b)
    assert isinstance(out.owner.op, MatMul)
    _check_batch(out, [RNG.normal(size=(2, 2, 3)), RNG.normal(size=(2, 3, 4))], batched)


def test_batched_dot_matches_loop():
    a, b = T.dtensor3("a"), T.dtensor3("b")
    av, bv = RNG.normal(size=(4, 2, 3)), RNG.normal(size=(4, 3, 5))
    assert_close(_f([a, b], T.batched_dot(a, b))(av, bv), np.stack([x @ y for x, y in zip(av, bv)]))


def _symbolic_shape(x):
    return tuple(builder("shape_i")(x, i) for i in range(x.ndim))


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                                   ((2, 2, 3), (2, 3, 4)), ((1, 2, 3), (5, 3, 4))])
def test_infer_shape(sa, sb):
    a = T.TensorType("float64", shape=tuple(1 if s == 1 else None for s in sa))("a")
    b = T.TensorType("float64", shape=tuple(None for _ in sb))("b")
    out = T.matmul(a, b)
    node = out.owner
    shapes = node.op.infer_shape(node, [_symbolic_shape(a), _symbolic_shape(b)])[0]
    av, bv = np.ones(sa), np.ones(sb)
    got = tuple(int(s) for s in _f([a, b], list(shapes))(av, bv)) if shapes else ()
    assert got == _f([a, b], out)(av, bv).shape


def test_outer_flattens_non_vectors():
    try:
        builder("flatten")
    except KeyError:
        pytest.skip("flatten is not available yet")
    x, y = T.dmatrix("x"), T.dvector("y")
    xv, yv = RNG.normal(size=(2, 2)), RNG.normal(size=3)
    assert_close(_f([x, y], T.outer(x, y))(xv, yv), np.outer(xv, yv))


def test_tensordot_uses_dot_for_single_axis():
    a, b = T.dmatrix("a"), T.dmatrix("b")
    assert any(isinstance(n.op, Dot) for n in toposort([T.tensordot(a, b, ([0], [1]))]))


def test_pp():
    x, W = T.dvector("x"), T.dmatrix("W")
    assert pp(T.dot(x, W)) == "dot(x, W)"
    a, b = T.dtensor3("a"), T.dtensor3("b")
    assert pp(T.matmul(a, b)) == "matmul(a, b)"


def test_ops_compare_equal():
    assert Dot() == Dot() and hash(Dot()) == hash(Dot())
    assert MatMul() == MatMul()
