"""The canonicalize rules: each one fires on its pattern (and preserves values) and stays quiet
where firing would be wrong."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad.evaluate import evaluate
from ccgrad.graph import Constant, FunctionGraph, Variable, graph_inputs
from ccgrad.printing import pp
from ccgrad.rewrite.canonicalize import CANONICALIZE
from ccgrad.rewrite.engine import Phase
from ccgrad.rewrite.scatter import add_of_scatter, scatter_of_scatter
from tests.test_rewrite_util import check_same, keys, opt1, ppn, strict_rewrites, values_for  # noqa: F401
from tests.tolerance import assert_close


def R(name: str):
    """The canonicalize rule of that name (so the tests also check the table holds it)."""
    return next(r for r in CANONICALIZE.rules if r.name == name)


def only(rules, out: Variable, inputs=None) -> Variable:
    """`out` rewritten by just these rules (plus constant folding)."""
    rules = rules if isinstance(rules, list) else [rules]
    inputs = graph_inputs([out]) if inputs is None else inputs
    new = Phase("test", [R("constant_fold"), *rules]).run(inputs, [out])[0]
    assert new.type == out.type
    vals = values_for(inputs)
    if inputs or not isinstance(new, Constant):
        assert_close(evaluate([new], vals)[0], evaluate([out], vals)[0], dtype=out.dtype, what=pp(out))
    return new


x, y = T.dvectors("x y")
m = T.dmatrix("m")
row = T.row("row", dtype="float64")
col = T.col("col", dtype="float64")
i8 = T.TensorType("int8", shape=(None,))("i8")
i32 = T.ivector("i32")


# -- constant folding


def test_constant_fold_fires():
    out = (T.constant(2.0) + T.constant(3.0)) * x
    new = only([], out)
    assert ppn(new) == "(5.0 * x)"


def test_constant_fold_keeps_dtype_and_static_shape():
    c = T.constant(np.arange(3, dtype="int16"))
    new = only([], c * 2)
    assert isinstance(new, Constant) and new.dtype == "int16" and new.type.shape == (3,)


def test_constant_fold_skips_large_broadcasts():
    big = T.alloc(0.0, 1000, 1000)
    assert keys(only([], big)) == ["Alloc"]
    small = T.alloc(1.5, 2, 3)
    assert isinstance(only([], small), Constant)


# -- gradient-only ops


def test_remove_gradient_block_fires():
    out = T.zero_grad(x) * T.disconnected_grad(y)
    new = only(R("remove_gradient_block"), out)
    assert "GradientBlock" not in keys(new)


def test_gradient_block_already_shaped_the_gradient():
    g = T.grad(T.sum(T.zero_grad(x) * x), x)  # d/dx of c*x with c = x held constant: x
    f = ccgrad.function([x], g, mode="py")
    np.testing.assert_allclose(f([1.0, 2.0]), [1.0, 2.0])
    assert "GradientBlock" not in keys(f.maker.fgraph.outputs)


def test_remove_specify_shape_like_fires_when_shapes_provably_equal():
    out = T.specify_shape_like(x * 2, x)
    new = only([R("remove_specify_shape_like"), R("shape_i_resolve")], out)
    assert "SpecifyShapeLike" not in keys(new)


def test_specify_shape_like_stays_for_rop_eval_points():
    W, V = T.dmatrices("W V")
    r = T.Rop(T.dot(x, W), W, V)
    f = ccgrad.function([W, V, x], r, mode="py")
    assert "SpecifyShapeLike" in keys(f.maker.fgraph.outputs)
    with pytest.raises(ValueError):
        f(np.ones((2, 2)), np.ones((3, 2)), np.ones(2))


def test_remove_identity_fires():
    assert only(R("remove_identity"), x.copy()) is x


# -- add / mul chains


def test_flatten_sort_collects_constants_first():
    out = (x + 1.0) + (2.0 + y)
    new = only(R("flatten_sort_add"), out)
    assert ppn(new) == "(3.0 + x + y)"


def test_sorting_makes_commuted_products_one_node():
    out = T.exp(x * y) - T.exp(y * x)
    new = only([R("flatten_sort_mul")], out)
    assert keys(new).count("mul") == 1 and keys(new).count("exp") == 1


def test_flatten_stops_at_narrower_dtype():
    a = T.TensorType("int8", shape=(None,))("a")
    out = (a + a) + x  # the int8 sum may wrap: it must stay a separate int8 node
    new = only(R("flatten_sort_add"), out, [a, x])
    assert keys(new) == ["add", "add"]
    vals = {a: np.array([100, 120], dtype="int8"), x: np.zeros(2)}
    assert_close(evaluate([new], vals)[0], np.array([-56.0, -16.0]))


def test_mul_by_one_and_add_zero_vanish():
    assert only(R("flatten_sort_mul"), x * 1.0) is x
    assert only(R("flatten_sort_add"), 0.0 + x) is x


def test_identity_dropped_with_a_cast_for_ints():
    out = i32 * 1.0  # float64 result: the int32 operand is cast, exactly
    new = only(R("flatten_sort_mul"), out)
    assert keys(new) == ["cast"]


def test_identity_kept_when_it_broadcasts():
    ones = T.constant(np.ones(3))
    out = x * ones  # x may have any length; the constant fixes the static length 3
    new = only(R("flatten_sort_mul"), out)
    assert keys(new) == ["mul"] and new.type.shape == (3,)


def test_mul_by_minus_one_is_neg():
    assert pp(only(R("flatten_sort_mul"), x * -1.0)) == "-x"


def test_times_zero_is_not_folded_for_floats():
    out = x * 0.0
    new = only(R("flatten_sort_mul"), out)
    assert keys(new) == ["mul"]
    vals = {x: np.array([np.inf, np.nan, 1.0])}
    assert np.isnan(evaluate([new], vals)[0][:2]).all()


def test_mul_neg_moves_negation_out():
    out = x * -y
    new = only([R("mul_neg"), R("flatten_sort_mul")], out, [x, y])
    assert pp(new) == "-(x * y)"
    assert pp(only([R("mul_neg"), R("flatten_sort_mul"), R("neg_neg")], -x * -y, [x, y])) == "(x * y)"


def test_mul_neg_keeps_narrow_negation():
    a = T.TensorType("int8", shape=(None,))("a")
    out = -a * x  # -(-128) wraps in int8: the negation must stay on a
    new = only(R("mul_neg"), out, [a, x])
    assert keys(new) == ["neg", "mul"]


def test_mul_div_moves_division_up():
    new = only([R("mul_div"), R("flatten_sort_mul")], x * (y / m.sum()))
    assert keys(new)[-1] == "true_div"


def test_mul_div_skips_integer_products():
    a, b = T.ivectors("a b")
    out = a * (b / a)  # a * b may overflow in int32, a * (b / a) is float64
    new = only(R("mul_div"), out)
    assert keys(new)[-1] == "mul"


# -- sub / neg / div / pow


def test_sub_zero():
    assert only(R("sub_zero"), x - 0.0) is x
    assert pp(only(R("sub_zero"), 0.0 - x)) == "-x"


def test_x_minus_x_is_not_folded():
    new = only([R("sub_zero"), R("flatten_sort_add")], x - x)
    assert keys(new) == ["sub"]
    assert np.isnan(evaluate([new], {x: np.array([np.inf])})[0][0])


def test_neg_neg():
    assert only(R("neg_neg"), -(-x)) is x
    assert keys(only(R("neg_neg"), -abs(-x))) == ["neg", "abs", "neg"]


def test_neg_into_const():
    assert ppn(only(R("neg_into_const"), -(x * 2))) == "(-2.0 * x)"
    assert ppn(only(R("neg_into_const"), -(3.0 / x))) == "(-3.0 / x)"
    a = T.TensorType("int8", shape=(None,))("a")
    out = -(T.constant(np.array([-128], dtype="int8")) * a)  # wraps, identically on both sides
    new = only(R("neg_into_const"), out, [a])
    vals = {a: np.array([1, -1, 3, 127], dtype="int8")}
    np.testing.assert_array_equal(evaluate([new], vals)[0], evaluate([out], vals)[0])


def test_neg_into_const_needs_a_constant_numerator():
    assert keys(only(R("neg_into_const"), -(x * y))) == ["mul", "neg"]
    assert keys(only(R("neg_into_const"), -(x / 3.0))) == ["true_div", "neg"]  # -c in the denominator is fine
    # too, but the rule keeps to the numerator: division is not commutative


def test_div_neg():
    assert pp(only([R("div_neg")], -x / y)) == "-(x / y)"
    assert pp(only([R("div_neg"), R("neg_neg")], x / -y)) == "-(x / y)"
    a = T.TensorType("int8", shape=(None,))("a")
    assert keys(only(R("div_neg"), -a / x, [a, x])) == ["neg", "true_div"]  # -(-128) wraps


def test_div_one():
    assert only(R("div_one"), x / 1) is x
    assert keys(only(R("div_one"), i32 / 1)) == ["cast"]


def test_x_over_x_and_floor_div_by_one_untouched():
    assert keys(only(R("div_one"), x / x)) == ["true_div"]
    assert keys(only(R("div_one"), x // 1)) == ["int_div"]


def test_pow_one_zero():
    assert only(R("pow_one_zero"), x**1) is x
    new = only([R("pow_one_zero"), R("fill_to_value")], x**0)
    assert keys(new) == ["second"]
    vals = {x: np.array([0.0, np.inf, np.nan])}
    np.testing.assert_array_equal(evaluate([new], vals)[0], [1.0, 1.0, 1.0])


def test_pow_two_not_touched_in_canonicalize():
    assert keys(only(R("pow_one_zero"), x**2)) == ["pow"]


def test_switch_const():
    assert only(R("switch_const"), T.switch(T.constant(True), x, y)) is x
    assert only(R("switch_const"), T.switch(T.constant(False), x, y)) is y
    assert keys(only(R("switch_const"), T.switch(x > 0, x, y))) == ["gt", "switch"]


def test_cast_cast():
    out = T.cast(T.cast(i8, "int32"), "float64")
    assert keys(only(R("cast_cast"), out)) == ["cast"]
    lossy = T.cast(T.cast(x, "int32"), "float64")  # truncation must stay
    assert keys(only(R("cast_cast"), lossy)) == ["cast", "cast"]


# -- fill / alloc


def test_fill_to_value():
    assert only(R("fill_to_value"), T.fill(x, y)) is y
    new = only(R("fill_to_value"), T.fill(x, 2.0))  # the scalar needs x's shape
    assert keys(new) == ["second"] and new.type == T.fill(x, 2.0).type


def test_alloc_to_value():
    v = T.TensorType("float64", shape=(3,))("v")
    assert only(R("alloc_to_value"), T.alloc(v, 3)) is v
    assert keys(only(R("alloc_to_value"), T.alloc(v, 2, 3))) == ["Alloc"]


def test_fill_cut():
    out = T.fill(x, 1.0) * y
    new = only([R("fill_cut"), R("flatten_sort_mul")], out)
    assert new is y


def test_fill_cut_keeps_needed_shape():
    out = T.fill(m, 2.0) * row  # the matrix's rows only come from m
    new = only(R("fill_cut"), out)
    assert "second" in keys(new)


def test_fill_cut_replaces_a_computed_model():
    out = T.fill(T.exp(x) * 3, 2.0)
    new = only(R("fill_cut"), out)
    assert ppn(new) == "fill(x, 2.0)"


def test_fill_model_to_alloc():
    out = T.fill(T.sum(m, axis=1), T.constant(np.array([2.0])))
    new = only([R("fill_model_to_alloc"), R("shape_i_resolve")], out)
    assert keys(new) == ["ShapeI", "Alloc"]


def test_fill_model_to_alloc_skips_elementwise_and_plain_models():
    assert keys(only(R("fill_model_to_alloc"), T.fill(x, 1.0))) == ["second"]
    out = T.fill(T.sum(m, axis=1), y)  # no broadcasting: keep the (fusable) fill
    assert "Alloc" not in keys(only(R("fill_model_to_alloc"), out))


def test_fill_sink():
    out = T.exp(T.fill(x, 0.0))
    new = only(R("fill_sink"), out)
    assert ppn(new) == "fill(x, 1.0)"


def test_fill_sink_leaves_fill_of_fill_alone():
    out = T.fill(y, T.fill(x, 0.0))
    assert keys(only(R("fill_sink"), out)) == ["second", "second"]


def test_alloc_sink():
    out = -T.alloc(T.constant(np.array([2.0])), x.shape[0])
    new = only([R("alloc_sink"), R("shape_i_resolve")], out)
    assert keys(new) == ["ShapeI", "Alloc"]


def test_alloc_sink_needs_scalar_operands():
    out = T.alloc(T.constant(np.array([2.0])), x.shape[0]) + y
    assert keys(only(R("alloc_sink"), out))[-1] == "add"


def test_dimshuffle_of_broadcast():
    out = T.fill(m, 2.0).T
    new = only(R("dimshuffle_of_broadcast"), out)
    assert ppn(new) == "fill(m.T, 2.0)"
    out2 = T.alloc(T.constant(np.array([[1.5]])), 2, x.shape[0]).dimshuffle(1, 0, "x")
    new2 = only(R("dimshuffle_of_broadcast"), out2, [x])
    assert keys(new2)[-1] == "Alloc"


def test_dimshuffle_of_computed_value_stays():
    out = T.exp(m).T  # moving it would compute exp twice if exp(m) has other users
    assert keys(only(R("dimshuffle_of_broadcast"), out)) == ["exp", "DimShuffle"]


def test_reduce_broadcast_axes():
    out = T.sum(row, axis=0)
    new = only(R("reduce_broadcast_axes"), out)
    assert "Reduce" not in keys(new)
    out2 = T.sum(T.TensorType("int8", shape=(1, None))("r8"), axis=0)
    assert keys(only(R("reduce_broadcast_axes"), out2)) == ["DimShuffle", "cast"]


def test_reduce_broadcast_axes_keeps_real_axes():
    assert keys(only(R("reduce_broadcast_axes"), T.sum(m, axis=0))) == ["Reduce"]


def test_sum_of_fill():
    out = T.sum(T.fill(m, 2.0))
    new = only([R("sum_of_fill"), R("shape_i_resolve")], out)
    assert "Reduce" not in keys(new)
    out2 = T.max(T.fill(m, T.constant(np.array([[1.0, 2.0, 3.0]]))), axis=0)
    assert "Reduce" not in keys(only([R("sum_of_fill"), R("shape_i_resolve")], out2))


def test_sum_of_fill_needs_a_uniform_value():
    out = T.sum(T.fill(col, row), axis=1)  # row varies along the reduced axis
    assert "Reduce" in keys(only(R("sum_of_fill"), out))


# -- dimshuffle and shapes


def test_dimshuffle_dimshuffle():
    assert only(R("dimshuffle_dimshuffle"), m.T.T) is m
    out = x.dimshuffle(0, "x").dimshuffle("x", 0, 1)
    assert pp(only(R("dimshuffle_dimshuffle"), out)) == "dimshuffle{x,0,x}(x)"


def test_single_dimshuffle_stays():
    assert keys(only(R("dimshuffle_dimshuffle"), m.T)) == ["DimShuffle"]


def test_shape_i_resolve():
    new = only(R("shape_i_resolve"), (T.exp(m) + row).shape[1] + 0)
    assert pp(new) == "(m.shape[1] + 0)"
    s = T.TensorType("float64", shape=(None, 4))("s")
    assert isinstance(only(R("shape_i_resolve"), T.shape_i(T.exp(s), 1)), Constant)


def test_shape_i_of_leaf_stays():
    assert keys(only(R("shape_i_resolve"), T.shape_i(m, 0))) == ["ShapeI"]


def test_shape_resolve():
    assert pp(only(R("shape_resolve"), T.exp(m).shape)) == "shape(m)"
    both = (col + row).shape  # no operand has the result's pattern
    assert keys(only(R("shape_resolve"), both)) == ["add", "Shape"]


def test_shape_of_reduction_uses_infer_shape():
    out = T.sum(T.exp(m), axis=0).shape[0]
    new = only(R("shape_i_resolve"), T.shape_i(T.sum(T.exp(m), axis=0), 0))
    assert pp(new) == "m.shape[1]"
    assert out is not None


# -- the whole phase on gradients


def test_logistic_gradient_canonical_form():
    xm = T.dmatrix("x")
    g = T.grad(T.sum(1 / (1 + T.exp(-xm))), xm)
    new = check_same(g, values_for([xm]), until="canonicalize")[0]
    assert "second" not in keys(new) and "Reduce" not in keys(new)


def test_canonicalize_phase_table_is_complete():
    names = [r.name for r in CANONICALIZE.rules]
    assert len(names) == len(set(names))
    assert names[0] == "constant_fold"


def test_broadcast_gradient_sums_fold_to_counts():
    b = T.row("b", dtype="float64")
    g = T.grad(T.sum(m + b), b)  # n copies of 1 per column
    new = check_same(g, values_for([m, b]))[0]
    assert "Reduce" not in keys(new)
    f = ccgrad.function([m, b], g, mode="py")
    np.testing.assert_array_equal(f(np.ones((4, 2)), np.ones((1, 2))), [[4.0, 4.0]])


def test_whole_pipeline_on_function_graph():
    fg = FunctionGraph([x, y], [T.grad(T.sum(T.tanh(x * y)), x)])
    new = ccgrad.rewrite.optimize(fg)
    assert new.inputs == fg.inputs


# -- indexing and reshaping


def test_subtensor_of_fill():
    out = T.fill(m, 2.0)[1:, 0]
    new = only([R("subtensor_of_broadcast")], out, [m])
    assert keys(new) == ["Subtensor", "second"]


def test_subtensor_of_alloc():
    n = T.lscalar("n")
    out = T.alloc(T.constant(np.array([[1.5]])), n, 5)[1:3]
    new = only([R("subtensor_of_broadcast")], out, [n])
    assert "Subtensor" not in keys(new)
    np.testing.assert_array_equal(evaluate([new], {n: np.array(6)})[0], np.full((2, 5), 1.5))


def test_subtensor_of_varying_broadcast_stays():
    out = T.fill(m, row)[:, 1]  # the value differs along the indexed axis
    assert "Subtensor" in keys(only([R("subtensor_of_broadcast")], out, [m, row]))


def test_subtensor_of_join():
    a = T.TensorType("float64", shape=(2, None))("a")
    b = T.TensorType("float64", shape=(3, None))("b")
    j = T.join(0, a, b)
    assert keys(only(R("subtensor_of_join"), j[3], [a, b])) == ["Subtensor"]
    assert only(R("subtensor_of_join"), j[2:], [a, b]) is b
    assert only(R("subtensor_of_join"), j[:2], [a, b]) is a
    new = only(R("subtensor_of_join"), j[-1, 1:], [a, b])
    assert new.owner.inputs[0] is b


def test_subtensor_of_join_across_inputs_stays():
    a = T.TensorType("float64", shape=(2, None))("a")
    b = T.TensorType("float64", shape=(3, None))("b")
    j = T.join(0, a, b)
    assert keys(only(R("subtensor_of_join"), j[1:4], [a, b])) == ["Join", "Subtensor"]
    c = T.dmatrix("c")  # unknown length: cannot tell which input holds the index
    assert keys(only(R("subtensor_of_join"), T.join(0, a, c)[3], [a, c])) == ["Join", "Subtensor"]


def test_reshape_reshape():
    out = T.reshape(T.reshape(m, (-1,)), (1, -1))
    new = only(R("reshape_reshape"), out, [m])
    assert keys(new).count("Reshape") == 1
    vals = {m: np.arange(12.0).reshape(3, 4)}
    np.testing.assert_array_equal(evaluate([new], vals)[0], np.arange(12.0).reshape(1, 12))


def test_reshape_to_own_shape():
    out = T.reshape(T.exp(m), (m.shape[0], m.shape[1]))
    assert keys(only([R("reshape_to_own_shape"), R("shape_i_resolve")], out, [m])) == ["exp"]
    out2 = T.reshape(m, (m.shape[1], m.shape[0]))  # a real reshape (transposed lengths)
    assert "Reshape" in keys(only([R("reshape_to_own_shape"), R("shape_i_resolve")], out2, [m]))


def test_int_div_one():
    assert only(R("int_div_one"), i32 // 1) is i32
    assert keys(only(R("int_div_one"), x // 1)) == ["int_div"]  # floor for floats


def test_max_of_nonneg():
    n = T.shape_i(x, 0)
    assert only(R("max_of_nonneg"), T.maximum(n * 2 + 1, 0), [x]).owner.op.scalar_op.name == "add"
    k = T.lscalar("k")  # may be negative
    assert keys(only(R("max_of_nonneg"), T.maximum(k, 0), [k])) == ["maximum"]


def test_constants_are_not_combined_into_an_overflow():
    out = (x * 1e200) * 1e200  # x = 1e-300 gives 1e100; 1e400 as one constant would be inf
    new = only(R("flatten_sort_mul"), out, [x])
    vals = {x: np.array([1e-300])}
    np.testing.assert_allclose(evaluate([new], vals)[0], [1e100])
    assert keys(new) == ["mul"]  # flattened, both constants kept
    out2 = (x * 1e-200) * 1e-200  # the product underflows to 0
    np.testing.assert_allclose(evaluate([only(R("flatten_sort_mul"), out2, [x])], {x: np.array([1e300])})[0],
                               [1e-100])


def test_constant_to_result_dtype():
    s = T.nnet.sigmoid(x)
    out = (1 - s) * (T.constant(np.float64(1.0)) - s)  # int8 1 and float64 1.0: one node after
    new = only([R("constant_to_result_dtype")], out, [x])
    assert keys(new).count("sub") == 1


def test_constant_to_result_dtype_keeps_what_would_change():
    big = T.constant(np.array([300], dtype="int16"))
    out = i8 * big  # int16 result already: nothing to convert
    assert only(R("constant_to_result_dtype"), out, [i8]).owner.inputs[1].dtype == "int16"
    f = T.constant(np.array([0.1]))
    out2 = T.fvector("f") * T.cast(f, "float32") + f  # float64 0.1 into float64 result: unchanged
    assert keys(only(R("constant_to_result_dtype"), out2))[-1] == "add"
    assert keys(only(R("constant_to_result_dtype"), x > 1)) == ["gt"]  # comparisons keep theirs


# -- gradient scatters (ccgrad/rewrite/scatter.py, run in the specialize phase)


def test_add_of_scatter_lands_in_the_other_term():
    out = T.inc_subtensor(T.zeros_like(x)[1:], y[1:]) + T.exp(x)
    new = only([add_of_scatter, R("shape_i_resolve")], out, [x, y])
    assert keys(new)[-1] == "IncSubtensor" and "add" not in keys(new)
    assert new.owner.inputs[0].owner.op.scalar_op.name == "exp"


def test_add_of_scatters_chains_them_into_one_buffer():
    z = T.zeros_like(x)
    out = T.inc_subtensor(z[1:], y[1:]) + T.inc_subtensor(z[:-1], y[:-1]) + T.inc_subtensor(z[:-1], x[1:])
    new = only([add_of_scatter, R("shape_i_resolve")], out, [x, y])
    assert keys(new).count("IncSubtensor") == 3 and "add" not in keys(new)
    merged = opt1(out, [x, y], until="specialize")  # sums flattened first: the [:-1] pair merges
    assert keys(merged).count("IncSubtensor") == 2 and keys(merged).count("second") == 1
    check_same(out, values_for([x, y]), until="specialize")


def test_add_of_scatter_needs_the_same_shape():
    out = T.inc_subtensor(T.zeros_like(x)[:2], y[:2]) + y  # x and y may differ in length
    assert "add" in keys(only([add_of_scatter, R("shape_i_resolve")], out, [x, y]))
    out2 = T.inc_subtensor(T.zeros_like(x)[:2], y[:2]) + row  # the sum broadcasts the other way
    assert "add" in keys(only([add_of_scatter, R("shape_i_resolve")], out2, [x, y, row]))


def test_add_of_scatter_leaves_set_and_nonzero_bases():
    out = T.set_subtensor(T.zeros_like(x)[1:], y[1:]) + x
    assert "add" in keys(only(add_of_scatter, out, [x, y]))
    out2 = T.inc_subtensor(T.ones_like(x)[1:], y[1:]) + x
    assert "add" in keys(only(add_of_scatter, out2, [x, y]))


def test_add_of_scatter_keeps_repeated_advanced_indices():
    idx = T.lvector("idx")
    out = T.inc_subtensor(T.zeros_like(x)[idx], y[idx]) + T.exp(x)
    new = only([add_of_scatter, R("shape_i_resolve")], out, [x, y, idx])
    assert keys(new)[-1] == "AdvancedIncSubtensor1"
    vals = {x: np.array([0.5, 1.0, 2.0]), y: np.array([1.0, 2.0, 4.0]), idx: np.array([2, 2, 0])}
    np.testing.assert_allclose(evaluate([new], vals)[0], np.exp(vals[x]) + [1.0, 0.0, 8.0])


def test_scatter_of_scatter_stays_for_integers_and_other_regions():
    iz = T.zeros_like(i32)
    out = T.inc_subtensor(T.inc_subtensor(iz[1:], i32[1:])[1:], i32[:-1])
    assert keys(only(scatter_of_scatter, out, [i32])).count("IncSubtensor") == 2
    z = T.zeros_like(x)
    out2 = T.inc_subtensor(T.inc_subtensor(z[1:], y[1:])[:-1], y[:-1])
    assert keys(only(scatter_of_scatter, out2, [x, y])).count("IncSubtensor") == 2
    out3 = T.set_subtensor(T.inc_subtensor(z[1:], y[1:])[1:], y[:-1])
    assert keys(only(scatter_of_scatter, out3, [x, y])).count("IncSubtensor") == 2


def test_rosenbrock_hvp_scatters_into_one_buffer():
    v = T.dvector("v")
    cost = T.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    f = ccgrad.function([x, v], T.Rop(T.grad(cost, x), x, v))
    names = [type(n.op).__name__ for n in f.maker.fgraph.toposort()]
    assert names.count("IncSubtensor") == 2 and "Elemwise{add}" not in str(f.maker.fgraph.toposort())
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=7), rng.normal(size=7)
    H = np.zeros((7, 7))
    H[np.arange(6), np.arange(6)] = 1200 * a[:-1] ** 2 - 400 * a[1:] + 2
    H[np.arange(1, 7), np.arange(1, 7)] += 200
    H[np.arange(6), np.arange(1, 7)] = H[np.arange(1, 7), np.arange(6)] = -400 * a[:-1]
    np.testing.assert_allclose(f(a, b), H @ b, rtol=1e-12)
