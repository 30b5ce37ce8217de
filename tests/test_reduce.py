"""Reductions beyond the op table: exact prod derivatives at zeros (first and second order,
against the analytic products), max/min tie behaviour, dtype rules against numpy, error
messages, keepdims static shapes, infer_shape, batch rules and printing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad import gradient
from ccgrad.graph import TensorType, builder
from ccgrad.ops.reduce import ArgReduce, Reduce
from ccgrad.printing import pp
from tests.tolerance import assert_close


def _f(inputs, outputs):
    return ccgrad.function(inputs, outputs, mode="py", on_unused_input="ignore")


def _prod_grad_ref(x: np.ndarray, axis) -> np.ndarray:
    """d prod(x, axis) / d x[i] = product of the other entries of i's group (no division)."""
    axes = tuple(range(x.ndim)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    axes = tuple(a % x.ndim for a in axes)
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        group = [j for j in np.ndindex(*x.shape) if all(j[d] == idx[d] for d in range(x.ndim) if d not in axes)]
        g[idx] = np.prod([x[j] for j in group if j != idx])
    return g


def _prod_hess_ref(x: np.ndarray) -> np.ndarray:
    """Hessian of prod(x) for a vector x: H[i, k] = prod of x without i and k (0 on the diagonal)."""
    n = x.size
    h = np.zeros((n, n))
    for i, k in itertools.product(range(n), repeat=2):
        if i != k:
            h[i, k] = np.prod([x[j] for j in range(n) if j not in (i, k)])
    return h


ZERO_VECTORS = [
    [1.5, -2.0, 0.7, 3.0],  # no zero
    [1.5, 0.0, 0.7, 3.0],  # one zero
    [0.0, -2.0, 0.0, 3.0],  # two zeros
    [0.0, 0.0, 0.0, 2.0],  # three zeros
    [0.0, 0.0, 0.0, 0.0],  # all zero
    [0.0],  # a single zero
]


@pytest.mark.parametrize("vals", ZERO_VECTORS)
def test_prod_grad_jvp_hessian_with_zeros(vals):
    xv = np.array(vals)
    x, t = T.dvector("x"), T.dvector("t")
    p = T.prod(x)
    g = T.grad(p, x)
    jv = T.Rop(p, x, t)
    hv_fwd = T.Rop(g, x, t)  # forward over reverse
    hv_rev = T.grad(T.sum(g * t), x)  # reverse over reverse
    tv = np.linspace(-1.0, 1.0, xv.size) + 0.25
    gv, jvv, h1, h2 = _f([x, t], [g, jv, hv_fwd, hv_rev])(xv, tv)
    want_g = _prod_grad_ref(xv, None)
    assert np.all(np.isfinite(gv)) and np.all(np.isfinite(h1)) and np.all(np.isfinite(h2))
    assert_close(gv, want_g)
    assert_close(jvv, np.dot(want_g, tv))
    h = _prod_hess_ref(xv)
    assert_close(h1, h @ tv)
    assert_close(h2, h @ tv)


@pytest.mark.parametrize("axis", [0, 1, -1, (0, 1), None])
@pytest.mark.parametrize("keepdims", [False, True])
def test_prod_grad_with_zeros_along_axes(axis, keepdims):
    xv = np.array([[1.5, 0.0, -2.0], [0.0, 0.0, 1.2], [1.1, -0.9, 1.3], [0.0, 2.0, 0.5]])
    x = T.dmatrix("x")
    out = T.prod(x, axis=axis, keepdims=keepdims)
    w = np.arange(1.0, 1.0 + np.prod(np.shape(np.prod(xv, axis=axis, keepdims=keepdims)))).reshape(
        np.shape(np.prod(xv, axis=axis, keepdims=keepdims)))
    g = T.grad(T.sum(out * w), x)
    gv = _f([x], g)(xv)
    want = _prod_grad_ref(xv, axis)
    wb = w if keepdims else np.expand_dims(w, tuple(range(2)) if axis is None else axis)
    assert_close(gv, want * wb)


def test_prod_grad_float32_with_zero():
    x = T.fvector("x")
    g = T.grad(T.prod(x), x)
    gv = _f([x], g)(np.array([2.0, 0.0, 3.0], dtype="float32"))
    assert gv.dtype == np.float32
    assert_close(gv, np.array([0.0, 6.0, 0.0], dtype="float32"))


def test_prod_of_integers_has_zero_grad():
    x = T.ivector("x")
    g = T.grad(T.sum(T.prod(x) * 1.0), x, disconnected_inputs="ignore")
    assert_close(_f([x], g)(np.array([1, 2, 3], dtype="int32")), np.zeros(3))


def test_max_ties_every_tied_element_gets_the_cotangent():
    x, t = T.dvector("x"), T.dvector("t")
    m = T.max(x)
    g = T.grad(m, x)
    jv = T.Rop(m, x, t)
    gv, jvv = _f([x, t], [g, jv])(np.array([1.0, 3.0, -2.0, 3.0]), np.array([0.1, 0.2, 0.3, 0.4]))
    assert_close(gv, np.array([0.0, 1.0, 0.0, 1.0]))
    assert_close(jvv, np.float64(0.6))  # consistent with the vjp: J = [0, 1, 0, 1]


def test_min_ties_along_axis():
    x = T.dmatrix("x")
    g = T.grad(T.sum(T.min(x, axis=0) * np.array([1.0, 2.0])), x)
    gv = _f([x], g)(np.array([[0.5, 2.0], [0.5, 1.0], [3.0, 1.0]]))
    assert_close(gv, np.array([[1.0, 0.0], [1.0, 2.0], [0.0, 2.0]]))


@pytest.mark.parametrize("kind", ["max", "min"])
def test_max_min_empty_axis_errors_name_op_and_shape(kind):
    x = T.dmatrix("x")
    f = _f([x], getattr(T, kind)(x, axis=1))
    with pytest.raises(ValueError, match=rf"{kind}.*zero-size.*\(3, 0\)"):
        f(np.zeros((3, 0)))
    assert f(np.zeros((0, 3))).shape == (0,)
    xs = T.tensor(dtype="float64", shape=(3, 0))
    with pytest.raises(ValueError, match=rf"{kind}.*zero-size.*\(3, 0\)"):
        getattr(T, kind)(xs, axis=1)
    with pytest.raises(ValueError, match=kind):
        getattr(T, kind)(xs)


def test_argmax_empty_error():
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match=r"argmax.*empty"):
        _f([x], T.argmax(x))(np.zeros((0, 3)))


DTYPES = ["bool", "int8", "uint8", "int16", "int32", "int64", "float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_output_dtypes_follow_numpy(dtype):
    x = T.tensor(dtype=dtype, shape=(None, None))
    v = np.ones((2, 3), dtype=dtype)
    checks = {
        "sum": np.sum(v).dtype, "prod": np.prod(v).dtype, "max": np.max(v).dtype, "min": np.min(v).dtype,
        "all": np.all(v).dtype, "any": np.any(v).dtype, "mean": np.mean(v).dtype,
        "argmax": np.dtype("int64"), "argmin": np.dtype("int64"),
    }
    if dtype == "uint8":  # numpy says uint64, which ccgrad does not support: int64 instead
        checks["sum"] = checks["prod"] = np.dtype("int64")
    if dtype != "bool":
        checks["var"] = np.var(v).dtype
        checks["std"] = np.std(v).dtype
    for name, want in checks.items():
        out = getattr(T, name)(x, axis=0)
        assert out.dtype == want.name, (name, dtype, out.dtype, want)
        assert _f([x], out)(v).dtype == want


def test_keepdims_static_shapes():
    x = T.tensor(dtype="float64", shape=(2, None, 4))
    assert T.sum(x, axis=1, keepdims=True).type.shape == (2, 1, 4)
    assert T.max(x, axis=(0, -1), keepdims=True).type.shape == (1, None, 1)
    assert T.argmax(x, axis=2, keepdims=True).type.shape == (2, None, 1)
    assert T.mean(x, keepdims=True).type.shape == (1, 1, 1)
    assert T.sum(x, axis=-1).type.shape == (2, None)
    assert T.argmax(x).type.shape == ()


def test_axis_errors():
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match="axis 2 is out of range for a 2-d input"):
        T.sum(x, axis=2)
    with pytest.raises(ValueError, match="repeated axis"):
        T.prod(x, axis=(0, -2))
    with pytest.raises(TypeError, match="axis"):
        T.max(x, axis=x)
    assert T.sum(x, axis=np.int64(1)).type.shape == (None,)
    assert T.sum(x, axis=[0, 1]).ndim == 0


def test_no_axes_still_builds_a_node():
    x = T.dvector("x")
    s = T.sum(x, axis=())
    assert s is not x and isinstance(s.owner.op, Reduce)


def test_max_and_argmax():
    x = T.dmatrix("x")
    m, a = T.max_and_argmax(x, axis=1)
    xv = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    mv, av = _f([x], [m, a])(xv)
    assert_close(mv, np.array([5.0, 7.0]))
    np.testing.assert_array_equal(av, np.array([1, 0]))


def test_argmax_is_not_differentiable():
    x = T.dvector("x")
    with pytest.raises(gradient.DisconnectedInputError):
        T.grad(T.sum(T.argmax(x) * 1.0), x)


def test_mean_var_std_dynamic_counts():
    x = T.dtensor3("x")
    xv = np.random.default_rng(0).normal(size=(2, 3, 4))
    outs = [T.mean(x, axis=(0, 2)), T.var(x, axis=1, ddof=1), T.std(x, axis=-1, keepdims=True)]
    got = _f([x], outs)(xv)
    assert_close(got[0], xv.mean(axis=(0, 2)))
    assert_close(got[1], xv.var(axis=1, ddof=1))
    assert_close(got[2], xv.std(axis=-1, keepdims=True))


def _symbolic_shape(x):
    return tuple(builder("shape_i")(x, i) for i in range(x.ndim))


@pytest.mark.parametrize("build", [
    lambda x: T.sum(x, axis=1), lambda x: T.prod(x, axis=(0, 2)), lambda x: T.max(x, axis=-1),
    lambda x: T.all(x), lambda x: T.argmin(x, axis=(1, 2)), lambda x: T.argmax(x, axis=0),
])
def test_infer_shape(build):
    x = T.dtensor3("x")
    out = build(x)
    node = out.owner
    shapes = node.op.infer_shape(node, [_symbolic_shape(x)])
    xv = np.zeros((2, 3, 4))
    got = _f([x], list(shapes[0]))(xv) if shapes[0] else []
    assert tuple(int(g) for g in got) == _f([x], out)(xv).shape


def _check_batch(op_out, xv_batch):
    """Apply the op's batch rule to a batched input and compare with a per-item loop."""
    node = op_out.owner
    xb = T.tensor(dtype=node.inputs[0].dtype, shape=(None,) * (node.inputs[0].ndim + 1))
    outs, flags = node.op.batch(node, [xb], [True])
    assert flags == [True]
    got = _f([xb], outs[0])(xv_batch)
    per_item = _f([node.inputs[0]], op_out)
    want = np.stack([per_item(item) for item in xv_batch])
    assert_close(got, want)
    outs, flags = node.op.batch(node, [node.inputs[0]], [False])
    assert flags == [False]


@pytest.mark.parametrize("build", [
    lambda x: T.sum(x, axis=1), lambda x: T.prod(x, axis=(0, 1)), lambda x: T.max(x, axis=0),
    lambda x: T.min(x), lambda x: T.argmax(x), lambda x: T.argmin(x, axis=1),
    lambda x: T.any(x > 0, axis=0),
])
def test_batch_rules(build):
    x = T.dmatrix("x")
    out = build(x)
    if out.owner.inputs[0] is not x:  # e.g. any(x > 0): batch the reduction of the comparison
        inner = out.owner.inputs[0]
        xb = np.random.default_rng(1).normal(size=(3, 2, 4)) > 0
        y = TensorType(inner.dtype, shape=(None, None))("y")
        out = out.owner.op.make_node(y).outputs[0]
        _check_batch(out, xb)
        return
    _check_batch(out, np.random.default_rng(1).normal(size=(3, 2, 4)))


def test_batch_rule_shifts_axes():
    # The reduced axes move by one when the batch axis is added in front.
    x = T.dmatrix("x")
    node = T.max(x, axis=1).owner
    xb = T.dtensor3("xb")
    out = node.op.batch(node, [xb], [True])[0][0]
    assert out.owner.op == Reduce("max", (2,))


def test_pp():
    x = T.dmatrix("x")
    assert pp(T.sum(x)) == "sum(x)"
    assert pp(T.max(x, axis=1)) == "max(x, axis=1)"
    assert pp(T.prod(x, axis=(0, 1))) == "prod(x)"
    assert pp(T.argmax(x, axis=0)) == "argmax(x, axis=[0])"
    assert str(Reduce("sum", (0, 2))) == "Sum{axis=[0, 2]}"


def test_ops_compare_by_props():
    assert Reduce("sum", (0,)) == Reduce("sum", (0,))
    assert hash(Reduce("max", (1,))) == hash(Reduce("max", (1,)))
    assert Reduce("sum", (0,)) != Reduce("prod", (0,))
    assert ArgReduce("argmax", (0,)) != ArgReduce("argmin", (0,))
    with pytest.raises(ValueError):
        Reduce("sum", (1, 0))
    with pytest.raises(ValueError):
        Reduce("median", (0,))


def test_prod_grad_with_infinities():
    """Entries other than the infinite one get the IEEE product of the others; the infinite
    entry's own partial is NaN (inf / inf, documented in _prod_partials)."""
    x = T.dvector("x")
    f = _f([x], T.grad(T.prod(x), x))
    gv = f(np.array([np.inf, 2.0, 3.0]))
    np.testing.assert_array_equal(gv[1:], np.array([np.inf, np.inf]))
    assert np.isnan(gv[0])
    gv = f(np.array([np.inf, 0.0, 3.0]))
    np.testing.assert_array_equal(gv[1:], np.array([np.inf, np.nan]))


def test_reduce_identity():
    assert Reduce("sum", (0,)).identity("float64") == 0
    assert Reduce("prod", (0,)).identity("int8") == 1
    assert Reduce("max", (0,)).identity("float32") == -np.inf
    assert Reduce("min", (0,)).identity("int8") == 127
    assert Reduce("max", (0,)).identity("uint8") == 0
