"""Helpers shared by the rewrite tests (imported by tests/test_rewrite*.py), and tests of the
engine itself: CSE, constant merging, dead code, fixed point, type checks, determinism,
the visit cap and the debug trace."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ccgrad.tensor as T
from ccgrad.evaluate import evaluate
from ccgrad.graph import Apply, FunctionGraph, Op, TensorType, Variable, as_variable
from ccgrad.printing import pp
from ccgrad.rewrite import engine, optimize
from ccgrad.rewrite.engine import Phase, RewriteError, Rewriter, node_key, rule
from tests.tolerance import assert_close

# ---------------------------------------------------------------------------------------------
# helpers


@pytest.fixture(autouse=True)
def strict_rewrites():
    """Every rewrite test runs with type checks that raise (a wrong-typed replacement is a bug)."""
    old = engine.STRICT
    engine.STRICT = True
    yield
    engine.STRICT = old


def opt(outputs, inputs=None, until: str | None = "specialize") -> list[Variable]:
    """The optimized outputs (through `until`; None runs the whole pipeline)."""
    outs = outputs if isinstance(outputs, list | tuple) else [outputs]
    outs = [as_variable(o) for o in outs]
    if inputs is None:
        from ccgrad.graph import graph_inputs

        inputs = graph_inputs(outs)
    return optimize(FunctionGraph(list(inputs), outs), until=until).outputs


def opt1(output, inputs=None, until: str | None = "specialize") -> Variable:
    return opt([output], inputs, until)[0]


def ppn(v: Variable) -> str:
    """pp with broadcast scalar constants shown as scalars: [[2.]] -> 2.0, [3] -> 3."""
    import re

    s = pp(v)
    s = re.sub(r"\[+(-?[0-9][0-9e+-]*)\.\]+", r"\1.0", s)
    return re.sub(r"\[+(-?[0-9][0-9.e+-]*)\]+", r"\1", s)


def keys(outputs) -> list[str]:
    """Index keys (scalar op name / op class) of every node, in topological order."""
    outs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return [node_key(n) for n in FunctionGraph([], list(outs)).toposort()]


def values_for(inputs, rng=None, low=-2.0, high=2.0, shapes=None) -> dict:
    """Random values for the inputs (static dims kept; unknown dims 3)."""
    rng = rng or np.random.default_rng(0)
    out = {}
    for v in inputs:
        shape = shapes[v] if shapes and v in shapes else tuple(3 if s is None else s for s in v.type.shape)
        if v.dtype in ("float32", "float64"):
            out[v] = rng.uniform(low, high, size=shape).astype(v.dtype)
        elif v.dtype == "bool":
            out[v] = rng.random(shape) < 0.5
        else:
            out[v] = rng.integers(int(low), int(high) + 1, size=shape).astype(v.dtype)
    return out


def check_same(outputs, vals: dict, until: str | None = None, rtol=None, atol=None) -> list[Variable]:
    """Assert the optimized outputs evaluate like the original ones; return the optimized ones."""
    outs = outputs if isinstance(outputs, list | tuple) else [outputs]
    outs = [as_variable(o) for o in outs]
    new = opt(outs, list(vals), until)
    for o, n in zip(outs, new):
        assert n.type == o.type, f"{pp(o)}: type {o.type!r} became {n.type!r}"
    want = evaluate(outs, vals)
    got = evaluate(new, vals)
    for o, w, g in zip(outs, want, got):
        assert_close(g, w, dtype=o.dtype, rtol=rtol, atol=atol, what=pp(o)[:200])
    return new


# ---------------------------------------------------------------------------------------------
# engine tests


def test_seed_derivative_prints_two_x_and_has_one_node():
    import ccgrad

    x = T.dscalar("x")
    f = ccgrad.function([x], T.grad(x**2, x), mode="py")
    assert pp(f.maker.fgraph.outputs[0]) == "(2.0 * x)"
    assert len(f.maker.fgraph.apply_nodes) == 1
    (node,) = f.maker.fgraph.apply_nodes
    assert node_key(node) == "mul"
    assert f(4) == 8.0
    assert f.maker.fgraph.outputs[0].type == f.maker.original_fgraph.outputs[0].type


def test_cse_merges_identical_subgraphs():
    x, y = T.dvectors("x y")
    out = T.exp(x * y) + T.exp(y * x)
    new = opt1(out, until="canonicalize")
    assert keys(new) == ["mul", "exp", "add"]  # x*y and y*x are one node, so is each exp
    check_same(out, values_for([x, y]))


def test_constants_with_equal_values_merge():
    x = T.dvector("x")
    a = x + T.constant(np.array([1.0, 2.0]))
    b = T.exp(x) * T.constant(np.array([1.0, 2.0]))
    new = opt([a, b], [x], until="canonicalize")
    consts = [v for n in FunctionGraph([x], new).toposort() for v in n.inputs if v.owner is None and v is not x]
    assert len({id(c) for c in consts}) == 1


def test_dead_code_disappears():
    x = T.dvector("x")
    s = T.sum(T.exp(x))
    g = T.grad(s, x)  # fill(exp(x), ...) * exp(x): the sum is dead after fill elimination
    new = opt1(g)
    assert "Reduce" not in keys(new)
    check_same(g, values_for([x]))


@pytest.mark.parametrize("until", ["canonicalize", "stabilize"])
def test_optimizing_twice_changes_nothing(until):
    x = T.dmatrix("x")
    g = T.grad(T.sum(1 / (1 + T.exp(-x)) * x**3 + T.log(1 + T.exp(x))), x)
    once = opt1(g, until=until)
    twice = opt1(once, [x], until=until)
    assert pp(once) == pp(twice)
    assert keys(once) == keys(twice)


def test_rule_returning_wrong_dtype_raises_in_strict_mode():
    @rule("bad_cast", "exp")
    def bad(node, ctx):
        return T.cast(node.inputs[0], "float32")

    x = T.dvector("x")
    with pytest.raises(RewriteError, match="bad_cast"):
        Phase("p", [bad]).run([x], [T.exp(x)])
    engine.STRICT = False
    with pytest.warns(RuntimeWarning, match="bad_cast"):
        assert Phase("p", [bad]).run([x], [T.exp(x)])[0].dtype == "float64"  # dropped, not applied


def test_rule_losing_static_shape_is_dropped():
    @rule("lose_shape", "exp")
    def lose(node, ctx):
        return T.vector("v", dtype="float64")

    x = T.TensorType("float64", shape=(3,))("x")
    out = Phase("p", [lose]).run([x], [T.exp(x)])[0]
    assert node_key(out.owner) == "exp"


def test_visit_cap_stops_rules_that_undo_each_other():
    @rule("a_to_b", "exp")
    def a_to_b(node, ctx):
        return T.exp(node.inputs[0] * 1.0)

    @rule("b_to_a", "mul")
    def b_to_a(node, ctx):
        return node.inputs[0] * 1.0

    x = T.dvector("x")
    with pytest.warns(RuntimeWarning, match="partly optimized"):
        out = Phase("loop", [a_to_b, b_to_a]).run([x], [T.exp(x)])[0]
    assert out.type == T.exp(x).type

    @rule("grow", "exp")
    def grow(node, ctx):
        return T.exp(node.inputs[0] + 0.0)

    engine_cap = engine.VISITS_PER_NODE
    try:
        engine.VISITS_PER_NODE = 0
        with pytest.warns(RuntimeWarning, match="cap reached|nested"):
            Phase("grow", [grow]).run([x], [T.exp(x) for _ in range(3)])
    finally:
        engine.VISITS_PER_NODE = engine_cap


def test_rules_are_indexed_by_scalar_op_and_class():
    seen = []

    @rule("see_exp", "exp")
    def see_exp(node, ctx):
        seen.append(node_key(node))

    @rule("see_all_elemwise", "Elemwise")
    def see_elemwise(node, ctx):
        seen.append("elemwise:" + node_key(node))

    @rule("see_reduce", "Reduce")
    def see_reduce(node, ctx):
        seen.append(node_key(node))

    x = T.dvector("x")
    Phase("p", [see_exp, see_elemwise, see_reduce]).run([x], [T.sum(T.exp(x) + 1)])
    assert seen == ["exp", "elemwise:exp", "elemwise:add", "Reduce"]


def test_rewriter_rank_is_first_appearance():
    x, y = T.dvectors("x y")
    ctx = Rewriter(Phase("none", []), [y, x])
    assert ctx.rank(y) < ctx.rank(x)
    e = ctx.final(T.exp(x))
    assert ctx.rank(e) > ctx.rank(x)


def test_inputs_that_are_intermediate_variables_are_kept():
    x = T.dvector("x")
    mid = x * 1.0
    out = T.exp(mid)
    new = optimize(FunctionGraph([mid], [out])).outputs[0]
    assert new.owner.inputs[0] is mid


class _Boom(Op):
    """An op whose numpy reference always fails (for the constant-folding test)."""

    def make_node(self, x):
        x = as_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, node, inputs):
        raise ValueError("boom at run time")


def test_constant_folding_leaves_run_time_errors_to_run_time():
    c = T.constant(np.array([1.0, 2.0]))
    out = _Boom()(c)
    new = opt1(out, [])
    assert isinstance(new.owner.op, _Boom)


def test_debug_trace_prints_rules_with_before_and_after():
    code = textwrap.dedent("""
        import ccgrad, ccgrad.tensor as T
        x = T.dscalar('x')
        ccgrad.function([x], T.grad(x ** 2, x), mode='py')
    """)
    env = dict(os.environ, CCGRAD_DEBUG="rewrite")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "rewrite[canonicalize] pow_one_zero: (x ** 1)  ->  x" in res.stderr
    assert "fill_to_value" in res.stderr


def test_same_graph_gives_same_result_in_another_process():
    code = textwrap.dedent("""
        import ccgrad, ccgrad.tensor as T
        from ccgrad.printing import debugprint
        x, y = T.dmatrix('x'), T.dmatrix('y')
        c = T.sum((y * x + x * y) / (1 + T.exp(-x)) + T.log(1 + y ** 2))
        f = ccgrad.function([x, y], T.grad(c, [x, y]), mode='py')
        print(debugprint(f, file='str'))
    """)
    outs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        outs.add(res.stdout)
    assert len(outs) == 1, outs


def test_optimized_types_equal_original_types():
    x = T.TensorType("float32", shape=(None, 1))("x")
    y = T.TensorType("float32", shape=(1, 4))("y")
    outs = [x * y + 1, T.grad(T.sum(T.tanh(x * y)), x), (x - y) ** 2]
    new = opt(outs, [x, y], until=None)
    for o, n in zip(outs, new):
        assert n.type == o.type


def test_int_types_stay_exact():
    a = T.TensorType("int8", shape=(None,))("a")
    out = (a * 1 + 0) * 2 - 0
    (new,) = check_same(out, {a: np.array([100, -100, 127], dtype="int8")})
    assert new.type == TensorType("int8", shape=(None,))


def test_rule_asking_for_its_own_node_does_not_recurse():
    @rule("self_reference", "exp")
    def selfref(node, ctx):
        again = ctx.final(T.exp(node.inputs[0]))  # the same node, while its rules run
        assert again.owner.op == node.op
        return None

    x = T.dvector("x")
    out = Phase("p", [selfref]).run([x], [T.exp(x)])[0]
    assert node_key(out.owner) == "exp"
