"""T.nnet beyond the op table: stability of softmax/log_softmax and their derivatives at ±800,
analytic Jacobians, cross-entropy gradients, module/registry access, batch rules, infer_shape
and printing."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad.graph import TensorType, builder
from ccgrad.ops import nnet
from ccgrad.ops.nnet import LogSoftmax, OneHot, Softmax
from ccgrad.printing import pp
from tests.tolerance import assert_close

LARGE = np.array([[800.0, 799.0, -800.0], [-800.0, -800.0, -799.0], [0.5, -0.25, 1.0]])


def _f(inputs, outputs):
    return ccgrad.function(inputs, outputs, mode="py", on_unused_input="ignore")


def _softmax_ref(x):
    return np.exp(x - np.logaddexp.reduce(x, axis=-1, keepdims=True))


def test_module_and_registry_access():
    assert T.nnet is nnet
    for name in ["softmax", "log_softmax", "relu", "categorical_crossentropy", "binary_crossentropy",
                 "hard_sigmoid", "ultra_fast_sigmoid", "elu", "selu", "softsign", "to_one_hot",
                 "sigmoid_binary_crossentropy"]:
        assert getattr(T, name) is getattr(T.nnet, name), name
    for name in ["sigmoid", "softplus", "logsoftmax"]:
        assert callable(getattr(T.nnet, name))
    x = T.dvector("x")
    assert T.nnet.sigmoid(x).owner.op == T.sigmoid(x).owner.op


def test_softmax_large_inputs_value_and_jacobian():
    x, t, g = T.dmatrix("x"), T.dmatrix("t"), T.dmatrix("g")
    sm = T.nnet.softmax(x)
    vjp = T.Lop(sm, x, g)
    jvp = T.Rop(sm, x, t)
    tv = np.linspace(-1, 1, 9).reshape(3, 3)
    gv = np.linspace(2, -1, 9).reshape(3, 3)
    s, lv, rv = _f([x, t, g], [sm, vjp, jvp])(LARGE, tv, gv)
    want = _softmax_ref(LARGE)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(lv)) and np.all(np.isfinite(rv))
    assert_close(s, want)
    assert_close(s.sum(axis=-1), np.ones(3))
    for i in range(3):
        J = np.diag(want[i]) - np.outer(want[i], want[i])
        assert_close(lv[i], gv[i] @ J, atol=1e-15)
        assert_close(rv[i], J @ tv[i], atol=1e-15)


def test_log_softmax_large_inputs_value_and_jacobian():
    x, t, g = T.dmatrix("x"), T.dmatrix("t"), T.dmatrix("g")
    ls = T.nnet.log_softmax(x)
    tv = np.linspace(-1, 1, 9).reshape(3, 3)
    gv = np.linspace(2, -1, 9).reshape(3, 3)
    out, lv, rv, hv = _f([x, t, g], [ls, T.Lop(ls, x, g), T.Rop(ls, x, t),
                                     T.Rop(T.grad(T.sum(ls * g), x), x, t)])(LARGE, tv, gv)
    s = _softmax_ref(LARGE)
    assert_close(out, LARGE - np.logaddexp.reduce(LARGE, axis=-1, keepdims=True))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(hv))
    for i in range(3):
        J = np.eye(3) - np.outer(np.ones(3), s[i])  # d log_softmax_j / d x_k = delta_jk - s_k
        assert_close(lv[i], gv[i] @ J, atol=1e-15)
        assert_close(rv[i], J @ tv[i], atol=1e-15)


def test_float32_large_inputs_stay_finite():
    x = T.fmatrix("x")
    xv = LARGE.astype("float32")
    s, ls, g = _f([x], [T.nnet.softmax(x), T.nnet.log_softmax(x),
                        T.grad(T.sum(T.nnet.log_softmax(x) * xv), x)])(xv)
    assert s.dtype == ls.dtype == g.dtype == np.float32
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(ls)) and np.all(np.isfinite(g))
    assert_close(s, _softmax_ref(LARGE).astype("float32"))


def test_softmax_of_inf_rows_matches_naive_limits():
    x = T.dmatrix("x")
    out = _f([x], T.nnet.softmax(x))(np.array([[0.0, -np.inf, 1.0]]))
    assert_close(out, _softmax_ref(np.array([[0.0, -np.inf, 1.0]])))


@pytest.mark.parametrize("targets", ["int", "onehot"])
def test_crossentropy_of_softmax_gradient_is_softmax_minus_onehot(targets):
    x = T.dmatrix("x")
    xv = np.array([[1.0, 2.0, 0.5], [0.1, -0.3, 0.2]])
    y = np.array([2, 0])
    onehot = np.eye(3)[y]
    if targets == "int":
        yv = T.lvector("y")
        args = (xv, y)
    else:
        yv = T.dmatrix("y")
        args = (xv, onehot)
    loss = T.sum(T.nnet.categorical_crossentropy(T.nnet.softmax(x), yv))
    g = _f([x, yv], T.grad(loss, x))(*args)
    assert_close(g, _softmax_ref(xv) - onehot)


def test_crossentropy_int_targets_ignores_zero_probabilities_elsewhere():
    p, y = T.dmatrix("p"), T.lvector("y")
    loss = T.sum(T.nnet.categorical_crossentropy(p, y))
    pv = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])
    val, g = _f([p, y], [loss, T.grad(loss, p)])(pv, np.array([0, 1]))
    assert_close(val, np.float64(np.log(2.0)))
    assert_close(g, np.array([[-2.0, 0.0, 0.0], [0.0, -1.0, 0.0]]))


def test_crossentropy_index_error_names_the_index():
    p, y = T.dmatrix("p"), T.lvector("y")
    f = _f([p, y], T.nnet.categorical_crossentropy(p, y))
    with pytest.raises(ValueError, match="class index 5 is out of range for 3 classes"):
        f(np.full((2, 3), 1 / 3), np.array([0, 5]))


def test_relu_derivative_at_zero_is_alpha():
    x = T.dvector("x")
    xv = np.array([-1.0, 0.0, 2.0])
    assert_close(_f([x], T.grad(T.sum(T.nnet.relu(x)), x))(xv), np.array([0.0, 0.0, 1.0]))
    assert_close(_f([x], T.grad(T.sum(T.nnet.relu(x, 0.25)), x))(xv), np.array([0.25, 0.25, 1.0]))


def test_relu_keeps_dtype():
    assert T.nnet.relu(T.fmatrix()).dtype == "float32"
    assert T.nnet.relu(T.imatrix()).dtype == "int32"


def test_softmax_type_rule():
    assert T.nnet.softmax(T.imatrix()).dtype == "float64"
    assert T.nnet.softmax(T.bvector()).dtype == "float32"
    assert T.nnet.log_softmax(T.fmatrix()).dtype == "float32"
    s = T.nnet.softmax(T.tensor(dtype="float64", shape=(2, None, 5)))
    assert s.type.shape == (2, None, 5)
    with pytest.raises(ValueError, match="non-negative"):
        Softmax(-1).make_node(T.dmatrix())


def _check_batch(out, values, batched):
    node = out.owner
    new_inputs, vals = [], []
    for inp, v, bflag in zip(node.inputs, values, batched):
        if bflag:
            new_inputs.append(TensorType(inp.dtype, shape=(None,) * (inp.ndim + 1))())
            vals.append(np.stack([v + k for k in range(3)]))
        else:
            new_inputs.append(inp)
            vals.append(v)
    outs, flags = node.op.batch(node, new_inputs, list(batched))
    assert flags == [True]
    leaves = [v for v in new_inputs if v.owner is None and not isinstance(v, ccgrad.graph.Constant)]
    got = _f(leaves, outs[0])(*[v for v, i in zip(vals, new_inputs) if i in leaves])
    per_item = _f([i for i in node.inputs if i.owner is None and not isinstance(i, ccgrad.graph.Constant)], out)
    want = np.stack([per_item(*[vv[k] if bf else vv for vv, bf, i in zip(vals, batched, node.inputs)
                                if i.owner is None and not isinstance(i, ccgrad.graph.Constant)])
                     for k in range(3)])
    assert_close(got, want)


@pytest.mark.parametrize("build", [lambda x: T.nnet.softmax(x), lambda x: T.nnet.log_softmax(x),
                                   lambda x: T.nnet.softmax(x, axis=0)])
def test_softmax_batch_rules(build):
    x = T.dmatrix("x")
    _check_batch(build(x), [np.array([[0.5, -1.0, 2.0], [1.0, 0.0, 3.0]])], [True])


def test_one_hot_batch_rule():
    y = T.lvector("y")
    out = T.nnet.to_one_hot(y, 4)
    _check_batch(out, [np.array([0, 1, 0]), np.array(4)], [True, False])


def _symbolic_shape(x):
    return tuple(builder("shape_i")(x, i) for i in range(x.ndim))


def test_infer_shape():
    x, y = T.dtensor3("x"), T.lmatrix("y")
    xv, yv = np.zeros((2, 3, 4)), np.zeros((2, 5), dtype="int64")
    for out in [T.nnet.softmax(x), T.nnet.log_softmax(x, axis=1)]:
        shp = out.owner.op.infer_shape(out.owner, [_symbolic_shape(x)])[0]
        assert tuple(int(s) for s in _f([x], list(shp))(xv)) == (2, 3, 4)
    oh = T.nnet.to_one_hot(y, 7)
    shp = oh.owner.op.infer_shape(oh.owner, [_symbolic_shape(y), ()])[0]
    assert tuple(int(s) for s in _f([y], list(shp))(yv)) == (2, 5, 7)
    assert oh.type.shape == (None, None, 7)


def test_one_hot_errors():
    with pytest.raises(TypeError, match="integers"):
        OneHot("float64").make_node(T.dvector(), 3)
    with pytest.raises(TypeError, match="integer scalar"):
        OneHot("float64").make_node(T.lvector(), T.dscalar())
    with pytest.raises(ValueError, match="negative"):
        OneHot("float64").make_node(T.lvector(), -1)


def test_pp():
    x = T.dmatrix("x")
    assert pp(T.nnet.softmax(x)) == "softmax(x)"
    assert pp(T.nnet.log_softmax(x, axis=0)) == "log_softmax(x, axis=0)"
    assert str(LogSoftmax(1)) == "LogSoftmax{1}"
