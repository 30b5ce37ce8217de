"""The fuse phase and the Fused op: which regions fuse (and which must not), the program's
representation, printing, numpy evaluation, and the op's other rules."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad.evaluate import evaluate
from ccgrad.graph import FunctionGraph
from ccgrad.ops.fused import Fused
from ccgrad.ops.scalar import SCALAR_OPS
from ccgrad.printing import pp
from ccgrad.rewrite.fuse import fuse_graph
from tests.test_rewrite_util import check_same, keys, opt, ppn, strict_rewrites, values_for  # noqa: F401
from tests.tolerance import assert_close

x, y = T.dvectors("x y")
m = T.dmatrix("m")
row = T.row("row", dtype="float64")


def fused(outputs, inputs):
    """Outputs after the pipeline through fusion, and the Fused nodes of the result."""
    outs = fuse_graph(inputs, opt(outputs, inputs, until="specialize"))
    nodes = [n for n in FunctionGraph(inputs, outs).toposort() if isinstance(n.op, Fused)]
    return outs, nodes


def same_values(old, new, inputs, **kw):
    vals = values_for(inputs, **kw)
    for o, n in zip(old, new):
        assert n.type == o.type
        assert_close(evaluate([n], vals)[0], evaluate([o], vals)[0], dtype=o.dtype)


def test_chain_becomes_one_node_that_prints_like_the_formula():
    out = T.exp(x) * 2 + y
    new, nodes = fused([out], [x, y])
    assert len(nodes) == 1 and keys(new) == ["Fused"]
    assert pp(new[0]) == ppn(opt(out, [x, y], until="specialize")[0]) == "(y + (2.0 * exp(x)))"
    same_values([out], new, [x, y])


def test_single_op_is_not_wrapped():
    new, nodes = fused([T.exp(x)], [x])
    assert nodes == [] and keys(new) == ["exp"]


def test_value_used_outside_stays_outside():
    e = T.exp(x)
    new, nodes = fused([e, e * 2 + 1], [x])
    assert len(nodes) == 1
    assert nodes[0].inputs[0] is new[0]  # the region reads exp(x), computed once
    same_values([e, e * 2 + 1], new, [x])


def test_value_with_another_user_is_not_recomputed():
    e = T.exp(x)
    out = T.sum(e) + (e * 2)  # e feeds a reduction and the elementwise region
    new, _ = fused([out], [x])
    assert sum(1 for n in FunctionGraph([x], new).toposort() if keys(n.outputs[0])[-1:] == ["exp"]) == 1
    same_values([out], new, [x])


def test_diamond_fuses_with_the_shared_value_once():
    e = T.exp(x)
    out = e * e + e
    new, nodes = fused([out], [x])
    assert len(nodes) == 1
    names = [s.name for s, _, _ in nodes[0].op.steps]
    assert names.count("exp") == 1
    same_values([out], new, [x])


def test_broadcast_smaller_producer_stays_outside():
    small = T.exp(row) * 3  # shape (1, n): computing it per element of (m, n) would repeat work
    out = small + m
    new, nodes = fused([out], [row, m])
    assert len(nodes) == 1
    assert [s.name for s, _, _ in nodes[0].op.steps] == ["exp", "mul"]
    assert keys(new)[-1] == "add"
    same_values([out], new, [row, m])


def test_reduction_joins_its_region():
    out = T.sum(T.exp(x) * y)
    new, nodes = fused([out], [x, y])
    assert len(nodes) == 1 and nodes[0].op.reduce == ("sum", (0,))
    assert pp(new[0]) == "sum((y * exp(x)))"
    same_values([out], new, [x, y])


def test_reduction_over_some_axes():
    out = T.max(T.tanh(m) * 2, axis=1)
    new, nodes = fused([out], [m])
    assert nodes[0].op.reduce == ("max", (1,)) and new[0].type == out.type
    same_values([out], new, [m])


def test_reduction_of_single_op_is_wrapped():
    out = T.sum(x * y, axis=0)
    new, nodes = fused([out], [x, y])
    assert len(nodes) == 1
    same_values([out], new, [x, y])


def test_reduction_does_not_join_shared_region():
    e = T.exp(x) * 2
    new, nodes = fused([T.sum(e), e], [x])
    assert all(n.op.reduce is None for n in nodes)
    assert "Reduce" in keys(new)


def test_reduction_of_a_leaf_is_left_alone():
    new, nodes = fused([T.sum(x)], [x])
    assert nodes == [] and keys(new) == ["Reduce"]


def test_argmax_and_any_are_not_joined():
    new, nodes = fused([T.argmax(T.exp(x) * 2)], [x])
    assert nodes[0].op.reduce is None and keys(new)[-1] == "ArgReduce"


def test_scalar_constants_are_embedded_and_arrays_are_inputs():
    c = T.constant(np.array([1.0, 2.0, 3.0]))
    out = (x + 2.5) * c
    new, nodes = fused([out], [x])
    (node,) = nodes
    assert [i for i in node.inputs] == [x, c]
    assert ("const", "float64", 2.5) in node.op.steps[0][1]
    same_values([out], new, [x], shapes={x: (3,)})


def test_program_references_are_explicit():
    out = T.exp(x) * T.exp(x) - x
    _, (node,) = fused([out], [x])
    steps = node.op.steps
    assert steps[0][1] == (("in", 0),)
    assert steps[1][1] == (("step", 0), ("step", 0))
    assert steps[2][1] == (("step", 1), ("in", 0))
    assert all(d == "float64" for _, _, d in steps)


def test_fusion_is_deterministic_in_input_order():
    out = (y * 2 + x) * T.exp(x)
    a = fused([out], [x, y])[1][0]
    b = fused([out], [x, y])[1][0]
    assert a.op == b.op and [v.name for v in a.inputs] == [v.name for v in b.inputs] == ["y", "x"]


def test_graph_outputs_are_never_absorbed():
    a = x * 2
    b = a + 1
    new, nodes = fused([a, b], [x])
    assert nodes == [] and keys(new) == ["mul", "add"]


def test_integer_regions():
    i, j = T.ivectors("i j")
    out = T.sum((i + j) * i)
    new, (_,) = fused([out], [i, j])
    assert new[0].dtype == "int64"
    same_values([out], new, [i, j], low=-100, high=100)


def test_whole_pipeline_values_on_a_gradient():
    W = T.dmatrix("W")
    cost = T.sum(T.tanh(T.dot(m, W)) ** 2 + T.nnet.sigmoid(m).sum())
    g = T.grad(cost, [m, W])
    new = check_same(g, values_for([m, W]), until=None)
    assert any(k == "Fused" for k in keys(new))


def test_function_maker_fgraph_is_after_fusion():
    f = ccgrad.function([x, y], T.sum((x - y) ** 2), mode="py")
    assert keys(f.maker.fgraph.outputs) == ["Fused"]
    assert ppn(f.maker.fgraph.outputs[0]) == "sum(((x - y) * (x - y)))"
    assert f([1.0, 2.0], [0.0, 0.0]) == 5.0


# -- the Fused op itself


LOGISTIC = [
    (SCALAR_OPS["sigmoid"], (("in", 0),), "float64"),
    (SCALAR_OPS["sub"], (("const", "float64", 1.0), ("step", 0)), "float64"),
    (SCALAR_OPS["mul"], (("step", 0), ("step", 1)), "float64"),
]


def test_fused_make_node_checks_the_program():
    with pytest.raises(TypeError, match="program says"):
        Fused([(SCALAR_OPS["exp"], (("in", 0),), "float32")])(x)
    with pytest.raises(ValueError, match="invalid argument"):
        Fused([(SCALAR_OPS["exp"], (("step", 0),), "float64")])(x)
    with pytest.raises(ValueError, match="one ndim"):
        Fused([(SCALAR_OPS["add"], (("in", 0), ("in", 1)), "float64")])(x, m)
    with pytest.raises(ValueError, match="unsupported reduction"):
        Fused(LOGISTIC, ("argmax", (0,)))
    with pytest.raises(TypeError, match="takes 1 args"):
        Fused([(SCALAR_OPS["exp"], (("in", 0), ("in", 0)), "float64")])(x)


def test_fused_static_shape_and_infer_shape():
    s = T.TensorType("float64", shape=(None, 4))("s")
    out = Fused(LOGISTIC, ("sum", (0,)))(s)
    assert out.type.shape == (4,)
    shp = out.owner.op.infer_shape(out.owner, [(T.shape_i(s, 0), T.shape_i(s, 1))])[0]
    assert len(shp) == 1


def test_fused_batch_rule():
    out = Fused(LOGISTIC, ("sum", (0,)))(m)
    xb = T.tensor3("xb", dtype="float64")
    (res,), (b,) = out.owner.op.batch(out.owner, [xb], [True])
    assert b and res.owner.op.reduce == ("sum", (1,))
    v = np.random.default_rng(0).normal(size=(2, 3, 4))
    got = evaluate([res], {xb: v})[0]
    want = np.stack([evaluate([out], {m: v[k]})[0] for k in range(2)])
    assert_close(got, want)


def test_fused_gradients_match_the_expanded_graph():
    w = T.dvector("w")
    out = T.sum(Fused(LOGISTIC)(x) * w)
    g = T.grad(out, x)
    ref = T.grad(T.sum(T.nnet.sigmoid(x) * (1 - T.nnet.sigmoid(x)) * w), x)
    vals = values_for([x, w])
    assert_close(evaluate([g], vals)[0], evaluate([ref], vals)[0])
    r = T.Rop(Fused(LOGISTIC)(x), x, w)
    rref = T.Rop(T.nnet.sigmoid(x) * (1 - T.nnet.sigmoid(x)), x, w)
    assert_close(evaluate([r], vals)[0], evaluate([rref], vals)[0])


def test_fused_scalar_body_for_code_generators():
    node = Fused(LOGISTIC).make_node(x)
    names = iter(f"t{k}" for k in range(10))
    stmts, expr = node.op.scalar_body(node, ["x[i]"], lambda prefix: next(names))
    assert len(stmts) == 3 and expr == "t2"
    assert stmts[0].startswith("const double t0 = ") and "x[i]" in stmts[0]
    assert "1.0" in stmts[1] and "t0" in stmts[1]


def test_fused_runtime_shape_errors_name_the_op():
    f = Fused([(SCALAR_OPS["add"], (("in", 0), ("in", 1)), "float64")])(x, y)
    with pytest.raises(ValueError, match="fused: shape mismatch"):
        evaluate([f], {x: np.ones(2), y: np.ones(3)})
