"""The stabilize and specialize rules: each fires on its pattern and stays quiet where it would
be wrong; stabilized graphs stay finite (and accurate) where the naive ones overflow, underflow
or cancel, e.g. at x = +-800."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad.evaluate import evaluate
from ccgrad.graph import graph_inputs
from ccgrad.rewrite import specialize as SP
from ccgrad.rewrite import stabilize as ST
from ccgrad.rewrite.canonicalize import CANONICALIZE_RULES
from ccgrad.rewrite.engine import Phase
from tests.test_rewrite_util import check_same, keys, opt1, ppn, strict_rewrites, values_for  # noqa: F401
from tests.tolerance import assert_close

x = T.dvector("x")
m = T.dmatrix("m")
EXTREME = np.array([-800.0, -40.0, -1.0, 0.0, 1e-20, 1.0, 40.0, 800.0])


def sig(v):
    """The logistic function evaluated without overflow (exp of non-positive numbers only)."""
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1 / (1 + e), e / (1 + e))


def stab(out, inputs=None):
    """`out` after canonicalize and stabilize (no specialization, no fusion)."""
    return opt1(out, inputs if inputs is not None else graph_inputs([out]), until="stabilize")


def run(out, inputs, *vals, optimize=True):
    f = ccgrad.function(inputs, out, mode="py", optimize=optimize)
    with np.errstate(all="ignore"):
        return f(*vals)


def finite_where_naive_is_not(out, inputs, vals, exact=None):
    """The optimized graph is finite everywhere; the naive one is not (the point of the rule).
    exact: the mathematically right values (checked at the float64 tolerance)."""
    naive = run(out, inputs, *vals, optimize=False)
    good = run(out, inputs, *vals)
    assert not np.all(np.isfinite(naive)), "the naive form should overflow on these inputs"
    assert np.all(np.isfinite(good)), good
    if exact is not None:
        assert_close(good, exact, rtol=1e-9, atol=1e-12)
    return good


# -- log / exp


def test_log_exp():
    assert stab(T.log(T.exp(x))) is x
    finite_where_naive_is_not(T.log(T.exp(x)), [x], [EXTREME], exact=EXTREME)


def test_exp_log_is_not_folded():
    assert keys(stab(T.exp(T.log(x)))) == ["log", "exp"]  # exp(log(-1)) is NaN, not -1


def test_softplus_from_log():
    out = T.log(1 + T.exp(x))
    assert keys(stab(out)) == ["softplus"]
    exact = np.logaddexp(0, EXTREME)
    finite_where_naive_is_not(out, [x], [EXTREME], exact=exact)
    assert keys(stab(T.log1p(T.exp(x)))) == ["softplus"]


def test_log_of_two_plus_exp_is_not_softplus():
    assert "softplus" not in keys(stab(T.log(2 + T.exp(x))))


def test_log_sigmoid():
    out = T.log(T.nnet.sigmoid(x))
    new = stab(out)
    assert keys(new) == ["neg", "softplus", "neg"]
    finite_where_naive_is_not(out, [x], [EXTREME], exact=-np.logaddexp(0, -EXTREME))


def test_log_of_naive_sigmoid():
    out = T.log(1 / (1 + T.exp(-x)))
    finite_where_naive_is_not(out, [x], [EXTREME], exact=-np.logaddexp(0, -EXTREME))


def test_log_one_minus_sigmoid():
    out = T.log(1 - T.nnet.sigmoid(x))
    assert keys(stab(out)) == ["softplus", "neg"]
    finite_where_naive_is_not(out, [x], [EXTREME], exact=-np.logaddexp(0, EXTREME))
    assert keys(stab(T.log1p(-T.nnet.sigmoid(x)))) == ["softplus", "neg"]


def test_log_two_minus_sigmoid_untouched():
    assert "softplus" not in keys(stab(T.log(2 - T.nnet.sigmoid(x))))


def test_log1p_from_log():
    out = T.log(1 + x)
    assert keys(stab(out)) == ["log1p"]
    tiny = np.array([1e-20, 1e-17, -1e-18])
    got = run(out, [x], tiny)
    assert_close(got, np.log1p(tiny), rtol=1e-12)  # naive log(1 + 1e-20) is 0
    assert keys(stab(T.log(1 - x))) == ["neg", "log1p"]


def test_log1p_skips_integers_and_other_constants():
    a = T.TensorType("int8", shape=(None,))("a")
    assert keys(stab(T.log(1 + a))) == ["add", "log"]  # 1 + 127 wraps in int8 first
    assert keys(stab(T.log(2 + x))) == ["add", "log"]


def test_expm1():
    assert keys(stab(T.exp(x) - 1)) == ["expm1"]
    assert keys(stab(-1 + T.exp(x))) == ["expm1"]
    tiny = np.array([1e-20, -1e-18])
    assert_close(run(T.exp(x) - 1, [x], tiny), np.expm1(tiny), rtol=1e-12)


def test_expm1_needs_exactly_one():
    assert "expm1" not in keys(stab(T.exp(x) - 2))
    assert "expm1" not in keys(stab(T.exp(x) + x - 1))


def test_sigmoid_from_exp():
    out = 1 / (1 + T.exp(-x))
    assert keys(stab(out)) == ["sigmoid"]
    exact = sig(EXTREME)
    assert_close(run(out, [x], EXTREME), exact, rtol=1e-12, atol=1e-300)
    out2 = T.exp(x) / (1 + T.exp(x))
    finite_where_naive_is_not(out2, [x], [EXTREME], exact=exact)
    out3 = 3 / (1 + T.exp(x))
    assert keys(stab(out3)) == ["neg", "sigmoid", "mul"]


def test_sigmoid_needs_one_plus_exp():
    assert "sigmoid" not in keys(stab(1 / (2 + T.exp(-x))))
    assert "sigmoid" not in keys(stab(1 / (1 + T.exp(-x) + x)))


def test_sigmoid_grad_reuses_forward_sigmoid():
    xm = T.dmatrix("x")
    g = T.grad(T.sum(1 / (1 + T.exp(-xm))), xm)
    new = stab(g, [xm])
    assert keys(new).count("sigmoid") == 1 and "exp" not in keys(new)
    vals = np.array([EXTREME])
    s = sig(vals)
    finite_where_naive_is_not(g, [xm], [vals], exact=s * (1 - s))


def test_sigmoid_grad_with_a_weight():
    w = T.dvector("w")
    g = T.grad(T.sum(w / (1 + T.exp(-x))), x)
    new = stab(g, [x, w])
    assert keys(new).count("sigmoid") == 1
    s = sig(EXTREME)
    wv = np.linspace(-1, 1, EXTREME.size)
    finite_where_naive_is_not(g, [x, w], [EXTREME, wv], exact=wv * s * (1 - s))


def test_sigmoid_grad_needs_the_same_exp():
    y = T.dvector("y")
    out = T.exp(x) / ((1 + T.exp(y)) * (1 + T.exp(y)))
    new = stab(out, [x, y])
    assert "exp" in keys(new)
    check_same(out, values_for([x, y]), until="stabilize")


def test_log_sum_exp():
    out = T.log(T.sum(T.exp(m), axis=1))
    new = stab(out)
    assert "Reduce" in keys(new) and keys(new).count("Reduce") == 2  # max and sum
    vals = np.array([[800.0, 799.0, -5.0], [-800.0, -801.0, -900.0]])
    exact = np.log(np.sum(np.exp(vals - vals.max(1, keepdims=True)), axis=1)) + vals.max(1)
    finite_where_naive_is_not(out, [m], [vals], exact=exact)
    check_same(out, values_for([m]), until="stabilize")


def test_log_sum_exp_keepdims_and_infinities():
    out = T.log(T.sum(T.exp(m), axis=0, keepdims=True))
    vals = np.array([[-np.inf, 1.0], [-np.inf, 2.0]])
    got = run(out, [m], vals)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(got, np.log(np.sum(np.exp(vals), axis=0, keepdims=True)))


def test_log_sum_exp_does_not_fire_on_its_own_output():
    new = stab(T.log(T.sum(T.exp(m), axis=1)))
    assert keys(stab(new, [m])) == keys(new)


def test_log_sum_without_exp_untouched():
    assert keys(stab(T.log(T.sum(m, axis=1)))) == ["Reduce", "log"]


def test_softmax_from_exp():
    e = T.exp(m)
    out = e / T.sum(e, axis=1, keepdims=True)
    assert keys(stab(out)) == ["Softmax"]
    vals = np.array([[800.0, 0.0, -800.0]])
    finite_where_naive_is_not(out, [m], [vals], exact=np.array([[1.0, 0.0, 0.0]]))
    z = m - T.max(m, axis=0, keepdims=True)
    out2 = T.exp(z) / T.sum(T.exp(z), axis=0, keepdims=True)
    assert ppn(stab(out2)) == "softmax(m, axis=0)"


def test_softmax_needs_matching_sum():
    e = T.exp(m)
    assert "Softmax" not in keys(stab(e / T.sum(e)))  # over all axes: not a softmax
    assert "Softmax" not in keys(stab(e / T.sum(T.exp(m * 2), axis=1, keepdims=True)))


def test_log_softmax_from_log():
    out = T.log(T.nnet.softmax(m))
    assert keys(stab(out)) == ["LogSoftmax"]
    vals = np.array([[800.0, 0.0, -800.0]])
    finite_where_naive_is_not(out, [m], [vals], exact=np.array([[0.0, -800.0, -1600.0]]))


def test_cancel_positive_factor():
    s = T.nnet.softmax(m)
    y = T.dmatrix("y")
    out = (y * s) / s
    assert "true_div" not in keys(stab(out, [m, y]))
    vals = [np.array([[1000.0, 0.0]]), np.array([[1.0, 2.0]])]
    finite_where_naive_is_not(out, [m, y], vals, exact=vals[1])


def test_cancel_only_positive_factors():
    y = T.dmatrix("y")
    out = (y * m) / m  # m may be 0
    assert keys(stab(out, [m, y]))[-1] == "true_div"


def test_softmax_cross_entropy_gradient_is_finite():
    y = T.dmatrix("y")
    loss = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(m), y))
    g = T.grad(loss, m)
    vals = [np.array([[900.0, 0.0, -900.0]]), np.array([[0.0, 0.0, 1.0]])]
    naive = run(g, [m, y], *vals, optimize=False)
    good = run(g, [m, y], *vals)
    assert not np.all(np.isfinite(naive))
    np.testing.assert_allclose(good, [[1.0, 0.0, -1.0]])
    assert "true_div" not in [k for k in keys(stab(g, [m, y]))[-3:]]


def test_distribute_only_over_positive_factors():
    y = T.dmatrix("y")
    out = m * (y / m - y)
    new = stab(out, [m, y])
    check_same(out, values_for([m, y]), until="stabilize")
    assert keys(new)[-1] == "mul"


def test_stabilize_table_has_unique_names():
    names = [r.name for r in ST.STABILIZE.rules]
    assert len(names) == len(set(names))
    assert len(ST.STABILIZE.rules) == len(ST.STABILIZE_RULES) + len(CANONICALIZE_RULES)


# -- specialize


def spec(out, inputs=None):
    inputs = inputs if inputs is not None else graph_inputs([out])
    return Phase("t", [*SP.SPECIALIZE_RULES]).run(inputs, [out])[0]


@pytest.mark.parametrize("p, want", [(2, ["mul"]), (3, ["mul", "mul"]), (4, ["mul", "mul"]),
                                     (0.5, ["sqrt"]), (-1, ["true_div"]), (-2, ["mul", "true_div"]),
                                     (-0.5, ["sqrt", "true_div"])])
def test_pow_specialize(p, want):
    out = x**p
    new = spec(out)
    assert keys(new) == want
    vals = {x: np.array([0.5, 1.5, 3.0, 7.25])}
    assert_close(evaluate([new], vals)[0], evaluate([out], vals)[0], rtol=1e-15)


def test_pow_specialize_float32_and_int():
    f = T.fvector("f")
    assert spec(f**2).dtype == "float32" and keys(spec(f**2)) == ["mul"]
    a = T.ivector("a")
    assert keys(spec(a**3)) == ["mul", "mul"]
    vals = {a: np.array([-7, 3, 1000], dtype="int32")}
    np.testing.assert_array_equal(evaluate([spec(a**3)], vals)[0], evaluate([a**3], vals)[0])


@pytest.mark.parametrize("p", [2.5, 9, -9, 1.0 / 3])
def test_pow_specialize_leaves_other_exponents(p):
    assert keys(spec(x**p)) == ["pow"]


def test_pow_specialize_leaves_negative_integer_powers_of_ints():
    a = T.ivector("a")
    assert keys(spec(a**-1)) == ["pow"]  # integer 1/x truncates
    assert keys(spec(a**0.5)) == ["pow"] or "sqrt" in keys(spec(a**0.5))


def test_pow_specialize_keeps_broadcasting_constant():
    s = T.TensorType("float64", shape=(1,))("s")
    out = s ** T.constant(np.array([2.0, 2.0, 2.0]))
    assert keys(spec(out, [s])) == ["pow"]


def test_div_by_constant():
    out = x / 4.0
    new = spec(out)
    assert ppn(new) == "(x * 0.25)"
    out3 = x / 3.0
    vals = {x: np.linspace(-5, 5, 11)}
    assert_close(evaluate([spec(out3)], vals)[0], evaluate([out3], vals)[0], rtol=2.3e-16)


@pytest.mark.parametrize("c", [0.0, 1e-310, np.inf, 1e308 * 10])
def test_div_by_constant_skips_bad_reciprocals(c):
    assert keys(spec(x / T.constant(np.float64(c)))) == ["true_div"]


def test_div_by_variable_untouched():
    y = T.dvector("y")
    assert keys(spec(x / y)) == ["true_div"]


def test_specialized_logistic_gradient_is_one_fused_node_with_one_exp():
    xm = T.dmatrix("x")
    f = ccgrad.function([xm], T.grad(T.sum(1 / (1 + T.exp(-xm))), xm), mode="py")
    nodes = f.maker.fgraph.apply_nodes
    assert len(nodes) == 1 and type(nodes[0].op).__name__ == "Fused"
    ops = [s.name for s, _, _ in nodes[0].op.steps]
    assert sum(op in ("exp", "sigmoid", "expm1", "softplus") for op in ops) == 1  # sigmoid: one exp
    assert ppn(f.maker.fgraph.outputs[0]) == "(sigmoid(x) * (1.0 - sigmoid(x)))"
    vals = np.array([[0.0, 1.0], [-1.0, -2.0]])
    np.testing.assert_allclose(f(vals), [[0.25, 0.19661193], [0.19661193, 0.10499359]], rtol=1e-7)
    assert np.all(np.isfinite(f(np.array([[800.0, -800.0]]))))


def test_scan_inner_graph_is_optimized_and_unused_inputs_dropped():
    y = x**2  # (* 2: not the plain Jacobian loop, which the jacobian pass vectorizes away)
    J, upd = ccgrad.scan(lambda i, y, x: T.grad(y[i], x) * 2, sequences=T.arange(y.shape[0]), non_sequences=[y, x])
    f = ccgrad.function([x], J, updates=upd, mode="py")
    (scan,) = [n for n in f.maker.fgraph.toposort() if type(n.op).__name__ == "Scan"]
    inner = keys(scan.op.fgraph.outputs)
    assert "second" not in inner and "Subtensor" not in inner  # fill(y[i], 1.0) became 1.0
    assert "pow" not in keys(f.maker.fgraph.outputs)  # y = x**2 is no longer computed
    np.testing.assert_array_equal(f([4.0, 4.0]), [[16.0, 0.0], [0.0, 16.0]])


def test_scan_rule_does_not_fire_twice():
    J, _ = ccgrad.scan(lambda i, x: T.grad(T.sum(T.exp(x) * x[i]), x), sequences=T.arange(3), non_sequences=[x])
    once = opt1(J, [x], until="specialize")
    twice = opt1(once, [x], until="specialize")
    assert once.owner.op == twice.owner.op and once.owner.op.inner_fp == twice.owner.op.inner_fp


def test_binary_cross_entropy_gradient_is_finite():
    t = T.dvector("t")
    for s in (T.nnet.sigmoid(x), 1 / (1 + T.exp(-x))):
        loss = T.sum(T.nnet.binary_crossentropy(s, t))
        g = T.grad(loss, x)
        vals = [np.array([800.0, -800.0, 0.5]), np.array([0.0, 1.0, 0.3])]
        naive = run(g, [x, t], *vals, optimize=False)
        assert not np.all(np.isfinite(naive))
        got_loss, got = ccgrad.function([x, t], [loss, g], mode="py")(*vals)
        np.testing.assert_allclose(got, sig(vals[0]) - vals[1], rtol=1e-12)
        assert np.isfinite(got_loss)


def test_log_sum_exp_of_a_row_is_rewritten_once():
    r = T.row("r", dtype="float64")  # max over axis 1 is a broadcast scalar: its dimshuffle moves
    out = T.log(T.sum(T.exp(r), axis=1, keepdims=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        new = stab(out, [r])
    assert keys(new).count("Reduce") == 2
    check_same(out, values_for([r]), until="stabilize")
