"""Array construction beyond the op table: dtype rules, static shapes, infer_shape, batch rules,
tile/repeat against numpy over many shapes, printing."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad.tensor as T
from ccgrad import gradient
from ccgrad.ops import arrays as A
from ccgrad.options import config
from ccgrad.printing import pp
from tests.test_shape_ops import check_batch, check_infer_shape


def test_arange_dtypes_and_static_shapes():
    n = T.iscalar("n")
    assert T.arange(n).dtype == "int64" and T.arange(n).type.shape == (None,)
    assert T.arange(3, 10, 2).type.shape == (4,)
    assert T.arange(0.0, 1.0, 0.3).type.shape == (4,) and T.arange(0.0, 1.0, 0.3).dtype == config.floatX
    assert T.arange(T.fscalar("f")).dtype == "float32"
    assert T.arange(T.fscalar("f"), T.dscalar("d")).dtype == "float64"
    assert T.arange(n, dtype="float32").dtype == "float32"
    assert T.arange(10, 0, -3).type.shape == (4,)
    assert T.arange(5, 2).type.shape == (0,)
    with pytest.raises(ValueError, match="zero"):
        T.arange(0, 4, 0)
    with pytest.raises(TypeError):
        T.arange(T.dvector("v"))


def test_arange_matches_numpy():
    a, b, c = T.lscalar("a"), T.lscalar("b"), T.lscalar("c")
    out = T.arange(a, b, c)
    for av, bv, cv in [(0, 7, 2), (7, 0, -2), (3, 3, 1), (-5, 4, 3), (4, -5, -4), (2, 1, 5)]:
        np.testing.assert_array_equal(out.eval({a: av, b: bv, c: cv}), np.arange(av, bv, cv))
        check_infer_shape(out, {a: av, b: bv, c: cv})
    x, y, z = T.dscalar("x"), T.dscalar("y"), T.dscalar("z")
    fout = T.arange(x, y, z)
    for vals in [(0.1, 2.0, 0.3), (2.0, -1.0, -0.7), (1.0, 1.0, 0.5)]:
        np.testing.assert_allclose(fout.eval(dict(zip((x, y, z), vals))), np.arange(*vals))
        check_infer_shape(fout, dict(zip((x, y, z), vals)))


def test_arange_gradient_verify_grad():
    gradient.verify_grad(lambda s, d: T.sum(T.arange(s, 4.1, d) ** 2), [np.array(0.3), np.array(0.7)],
                         rng=np.random.default_rng(1))


def test_join_static_and_infer_shape():
    a = T.matrix("a", dtype="float64", shape=(2, None))
    b = T.matrix("b", dtype="float64", shape=(3, 5))
    j = T.concatenate([a, b])
    assert j.type.shape == (5, 5)
    assert T.concatenate([b, T.matrix("c", dtype="float64", shape=(None, 2))], axis=1).type.shape == (3, 7)
    with pytest.raises(ValueError, match="disagree on axis 1"):
        T.concatenate([b, T.matrix("c", dtype="float64", shape=(1, 4))])
    x, y = T.dmatrix("x"), T.dmatrix("y")
    outs = [T.concatenate([x, y]), T.concatenate([x, y, x], axis=1), T.stack([x, y], axis=1)]
    check_infer_shape(outs, {x: np.zeros((2, 3)), y: np.ones((2, 3))})
    assert T.stack([T.lscalar("n"), 3]).dtype == "int64"
    assert T.stack([1, 2]).dtype == "int8"
    assert T.stack([1, 2.5]).dtype == config.floatX
    assert T.stack([T.fscalar("f"), 2.5]).dtype == "float32"
    assert T.join(0, x) is x


def test_eye_and_diag_shapes():
    n, m = T.lscalar("n"), T.bscalar("m")
    assert T.eye(3).type.shape == (3, 3) and T.eye(3, 4, 1, dtype="int8").dtype == "int8"
    check_infer_shape(T.eye(n, m, 1), {n: 2, m: 5})
    x = T.matrix("x", dtype="float64", shape=(3, 5))
    assert T.diag(x).type.shape == (3,) and T.diag(x, 3).type.shape == (2,) and T.diag(x, -4).type.shape == (0,)
    v = T.vector("v", dtype="float64", shape=(2,))
    assert T.diag(v, -2).type.shape == (4, 4)
    y, w, t = T.dmatrix("y"), T.dvector("w"), T.dtensor3("t")
    outs = [T.diag(y), T.diag(y, 2), T.diag(y, -1), T.diag(w, 1), T.diagonal(t, 1, 2, 0), T.diagonal(t, -1, 0, 1)]
    for shape in [(3, 3), (2, 5), (5, 2)]:
        check_infer_shape(outs, {y: np.zeros(shape), w: np.ones(3), t: np.zeros((2, 3, 4))})


@pytest.mark.parametrize("offset", [-2, 0, 1])
@pytest.mark.parametrize("axes", [(0, 1), (1, 0), (0, 2), (2, 1)])
def test_diagonal_matches_numpy_with_gradient(offset, axes):
    x = T.dtensor3("x")
    data = np.random.default_rng(0).normal(size=(3, 4, 5))
    out = T.diagonal(x, offset, *axes)
    np.testing.assert_array_equal(out.eval({x: data}), np.diagonal(data, offset, *axes))
    gradient.verify_grad(lambda a: T.diagonal(a, offset, *axes) ** 2, [data], rng=np.random.default_rng(2))


@pytest.mark.parametrize("shape,reps", [((2,), (3,)), ((2, 3), (2, 1)), ((2,), (2, 2, 2)), ((3, 1), 2),
                                        ((2, 2), (0, 1)), ((), (3,))])
def test_tile_matches_numpy(shape, reps):
    x = T.TensorType("float64", shape=(None,) * len(shape))("x")
    data = np.random.default_rng(0).normal(size=shape)
    out = T.tile(x, reps)
    np.testing.assert_array_equal(out.eval({x: data}), np.tile(data, reps))
    if data.size and np.prod(reps):
        gradient.verify_grad(lambda a: T.tile(a, reps), [data], rng=np.random.default_rng(3))


@pytest.mark.parametrize("shape,repeats,axis", [((4,), 3, None), ((2, 3), 2, None), ((2, 3), 2, 0), ((2, 3), 3, -1),
                                                ((2, 3), [1, 0, 2], 1), ((3,), [2, 2, 2], 0), ((2, 2), 0, 1)])
def test_repeat_matches_numpy(shape, repeats, axis):
    x = T.TensorType("float64", shape=(None,) * len(shape))("x")
    data = np.random.default_rng(0).normal(size=shape)
    out = T.repeat(x, repeats, axis=axis)
    np.testing.assert_array_equal(out.eval({x: data}), np.repeat(data, repeats, axis=axis))
    gradient.verify_grad(lambda a: T.repeat(a, repeats, axis=axis), [data], rng=np.random.default_rng(4))


def test_zeros_ones():
    assert T.zeros((2, 3)).dtype == config.floatX and T.zeros((2, 3)).type.shape == (2, 3)
    x = T.dmatrix("x")
    z = T.ones(x.shape, dtype="int8")
    assert z.dtype == "int8"
    np.testing.assert_array_equal(z.eval({x: np.zeros((2, 5))}), np.ones((2, 5)))
    n = T.lscalar("n")
    assert T.zeros([n, 2]).eval({n: 3}).shape == (3, 2)


@pytest.mark.parametrize("case", ["join_all", "join_some", "extract", "extract_axes", "allocdiag",
                                  "arange", "eye"])
def test_batch_rules(case):
    m = np.arange(12.0).reshape(3, 4)
    table = {
        "join_all": (lambda a, b: T.concatenate([a, b], axis=1), [m, m[:, :2]], [True, True]),
        "join_some": (lambda a, b: T.concatenate([a, b]), [m, m[:1]], [False, True]),
        "extract": (lambda a: T.diag(a, 1), [m], [True]),
        "extract_axes": (lambda a: T.diagonal(a, -1, 1, 0), [m], [True]),
        "allocdiag": (lambda v: T.diag(v, -1), [np.arange(3.0)], [True]),
        "arange": (lambda a: T.arange(a, 9, 2), [np.int64(1)], [False]),
        "eye": (lambda n: T.eye(n, 4, 1), [np.int64(3)], [False]),
    }
    build, values, flags = table[case]
    check_batch(build, values, flags)


def test_batch_arange_refused():
    a = T.lscalar("a")
    out = T.arange(a)
    with pytest.raises(NotImplementedError, match="ragged"):
        out.owner.op.batch(out.owner, [T.lvector("ab"), *out.owner.inputs[1:]], [True, False, False])


def test_pp_arrays():
    x, y, n = T.dmatrix("x"), T.dmatrix("y"), T.lscalar("n")
    assert pp(T.concatenate([x, y], axis=1)) == "join(1, x, y)"
    assert pp(T.arange(n)) == "arange(0, n, 1)"
    assert pp(T.diag(T.diag(x))) == "diag(diagonal(x, 0, 0, 1), 0)"
    assert str(A.Join(0)) == "Join{axis=0}"
