"""scan: Theano's forward semantics (sequences and taps, recurrent outputs, non-sequences,
n_steps, until, go_backwards, several outputs), the seed's Jacobian/Hessian and its gotcha, the
Scan op's representation (lifting, equality, shapes, printing), error messages, the batch rule,
and the Theano-compatible ccgrad.scan_module namespace."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad
import ccgrad.ops.scan as scan_ops
import ccgrad.tensor as T
from ccgrad import scan_module
from ccgrad.gradient import DisconnectedInputError
from ccgrad.graph import FunctionGraph, SharedVariable, TensorType, graph_inputs, toposort
from ccgrad.ops.scan import Scan
from ccgrad.scan_module import OrderedUpdates, scan, until
from tests.tolerance import assert_close

MODES = ["py"]  # add "c" once the C backend lowers Scan

theano_scan = getattr(ccgrad, "scan", scan)  # the seed's `theano.scan`


def fn(inputs, outputs, mode, **kw):
    return ccgrad.function(inputs, outputs, mode=mode, **kw)


def scan_nodes(outputs) -> list:
    outs = outputs if isinstance(outputs, list) else [outputs]
    return [n for n in toposort(outs) if isinstance(n.op, Scan)]


# ---------------------------------------------------------------------------------------------
# the seed tutorial, verbatim


@pytest.mark.parametrize("mode", MODES)
def test_seed_jacobian(mode):
    x = T.dvector("x")
    y = x ** 2
    J, updates = theano_scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]), non_sequences=[y, x])
    f = ccgrad.function([x], J, updates=updates, mode=mode)
    np.testing.assert_array_equal(f([4, 4]), [[8.0, 0.0], [0.0, 8.0]])


@pytest.mark.parametrize("mode", MODES)
def test_seed_hessian(mode):
    x = T.dvector("x")
    y = x ** 2
    cost = y.sum()
    gy = T.grad(cost, x)
    H, updates = theano_scan(lambda i, gy, x: T.grad(gy[i], x), sequences=T.arange(gy.shape[0]),
                             non_sequences=[gy, x])
    f = ccgrad.function([x], H, updates=updates, mode=mode)
    np.testing.assert_array_equal(f([4, 4]), [[2.0, 0.0], [0.0, 2.0]])


def test_seed_gotcha_raises_at_build():
    x = T.dvector("x")
    y = x ** 2
    with pytest.raises(DisconnectedInputError):
        theano_scan(lambda y_i, x: T.grad(y_i, x), sequences=y, non_sequences=x)


def test_updates_is_empty_ordered_updates():
    x = T.dvector("x")
    _, updates = scan(lambda x_t: x_t * 2, sequences=x)
    assert isinstance(updates, OrderedUpdates) and len(updates) == 0
    with pytest.raises(TypeError):
        updates[x] = x  # keys must be shared variables


# ---------------------------------------------------------------------------------------------
# loops


@pytest.mark.parametrize("mode", MODES)
def test_cumulative_sum(mode):
    v = T.dvector("v")
    cs, _ = scan(lambda x_t, acc: acc + x_t, sequences=v, outputs_info=T.constant(0.0))
    assert cs.type.shape == (None,) and isinstance(cs, ccgrad.graph.Variable)
    assert_close(fn([v], cs, mode)([1.0, 2.0, 3.0, 4.0]), [1.0, 3.0, 6.0, 10.0])


@pytest.mark.parametrize("mode", MODES)
def test_power_by_repeated_multiplication(mode):
    """Theano's tutorial: A**k with a loop over k steps, keeping only the last result."""
    k = T.iscalar("k")
    A = T.dvector("A")
    result, updates = scan(fn=lambda prior_result, A: prior_result * A, outputs_info=T.ones_like(A),
                           non_sequences=A, n_steps=k)
    final = result[-1]
    power = fn([A, k], final, mode, updates=updates)
    assert_close(power(np.arange(10.0), 2), np.arange(10.0) ** 2)
    assert_close(power(np.arange(10.0), 5), np.arange(10.0) ** 5)


@pytest.mark.parametrize("mode", MODES)
def test_two_taps_fibonacci(mode):
    x0 = T.dvector("x0")
    fib, _ = scan(lambda a, b: a + b, outputs_info=dict(initial=x0, taps=[-2, -1]), n_steps=8)
    assert_close(fn([x0], fib, mode)([0.0, 1.0]), [1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0])


@pytest.mark.parametrize("mode", MODES)
def test_taps_use_first_rows_of_longer_initial(mode):
    """Theano reads initial[:L] for taps with min -L; a longer initial value is fine."""
    x0 = T.dvector("x0")
    out, _ = scan(lambda a, b: a * 10 + b, outputs_info=dict(initial=x0, taps=[-3, -1]), n_steps=2)
    # history [1, 2, 3]: step 0: 1*10 + 3 = 13; step 1: 2*10 + 13 = 33
    assert_close(fn([x0], out, mode)([1.0, 2.0, 3.0, 99.0]), [13.0, 33.0])


@pytest.mark.parametrize("mode", MODES)
def test_n_steps_without_sequences(mode):
    n = T.lscalar("n")
    x0 = T.dscalar("x0")
    out, _ = scan(lambda x: 3.5 * x * (1 - x), outputs_info=x0, n_steps=n)
    f = fn([x0, n], out, mode)
    want, x = [], 0.3
    for _ in range(6):
        x = 3.5 * x * (1 - x)
        want.append(x)
    assert_close(f(0.3, 6), want)
    assert f(0.3, 0).shape == (0,)
    with pytest.raises(ValueError, match="n_steps"):
        f(0.3, -1)


@pytest.mark.parametrize("mode", MODES)
def test_until_powers_of_two(mode):
    """Theano's documentation example: stop once the value exceeds max_value (the step that
    crosses it is kept)."""
    max_value = T.dscalar("max_value")
    values, _ = scan(lambda prev, mx: (prev * 2, until(prev * 2 > mx)), outputs_info=T.constant(1.0),
                     non_sequences=max_value, n_steps=1024)
    f = fn([max_value], values, mode)
    assert_close(f(45), [2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
    assert_close(f(0.5), [2.0])
    assert f(np.inf).shape == (1024,)


@pytest.mark.parametrize("mode", MODES)
def test_until_with_updates_and_sequences(mode):
    """`return outputs, updates, until(c)` and a sequence bounding the steps."""
    v = T.dvector("v")
    out, _ = scan(lambda x_t, acc: (acc + x_t, {}, until(acc + x_t > 5)), sequences=v, outputs_info=T.constant(0.0))
    f = fn([v], out, mode)
    assert_close(f([1.0, 2.0, 3.0, 4.0]), [1.0, 3.0, 6.0])
    assert_close(f([1.0, 1.0]), [1.0, 2.0])


@pytest.mark.parametrize("mode", MODES)
def test_go_backwards(mode):
    v = T.dvector("v")
    out, _ = scan(lambda x_t, acc: acc * 10 + x_t, sequences=v, outputs_info=T.constant(0.0), go_backwards=True)
    assert_close(fn([v], out, mode)([1.0, 2.0, 3.0]), [3.0, 32.0, 321.0])
    # reversed first, then truncated to n_steps (Theano's order)
    out2, _ = scan(lambda x_t: x_t, sequences=v, n_steps=2, go_backwards=True)
    assert_close(fn([v], out2, mode)([1.0, 2.0, 3.0]), [3.0, 2.0])


@pytest.mark.parametrize("mode", MODES)
def test_sequence_taps(mode):
    v = T.dvector("v")
    data = np.arange(1.0, 7.0)
    out, _ = scan(lambda a, b: a * 10 + b, sequences=dict(input=v, taps=[-1, 0]))
    assert_close(fn([v], out, mode)(data), data[:-1] * 10 + data[1:])
    out, _ = scan(lambda a, b: a * 10 + b, sequences=dict(input=v, taps=[-2, 1]))  # step t: v[t], v[t+3]
    assert_close(fn([v], out, mode)(data), data[:3] * 10 + data[3:])
    out, _ = scan(lambda a: a, sequences=dict(input=v, taps=[1]))  # future-only taps start at v[1]
    assert_close(fn([v], out, mode)(data), data[1:])
    out, _ = scan(lambda b, a: a * 10 + b, sequences=dict(input=v, taps=[0, -1]))  # fn gets taps in given order
    assert_close(fn([v], out, mode)(data), data[:-1] * 10 + data[1:])


@pytest.mark.parametrize("mode", MODES)
def test_argument_order_and_several_outputs(mode):
    """fn gets sequences (by taps), previous outputs (by taps), non-sequences; outputs keep the
    order of outputs_info, None meaning a non-recurrent output."""
    seq_a, seq_b = T.dvector("a"), T.dvector("b")
    h0, x0 = T.dscalar("h0"), T.dvector("x0")
    w = T.dscalar("w")
    seen = []

    def step(a_tm1, a_t, b_t, h_tm1, x_tm2, x_tm1, w):
        seen.append((a_tm1.name, a_t.name, b_t.name, h_tm1.name, x_tm2.name, x_tm1.name, w.name))
        return h_tm1 + a_t * w, a_tm1 * b_t, x_tm2 + x_tm1 + h_tm1

    (h, prod, x), _ = scan(step, sequences=[dict(input=seq_a, taps=[-1, 0]), seq_b],
                                 outputs_info=[h0, None, dict(initial=x0, taps=[-2, -1])], non_sequences=w)
    assert seen[0] == ("a[t-1]", "a[t]", "b[t]", "h0[t-1]", "x0[t-2]", "x0[t-1]", "w")
    f = fn([seq_a, seq_b, h0, x0, w], [h, prod, x], mode)
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([5.0, 6.0, 7.0])
    got = f(a, b, 0.5, [1.0, 2.0], 2.0)
    hs, xs = [0.5], [1.0, 2.0]
    for t in range(3):
        xs.append(xs[-2] + xs[-1] + hs[-1])
        hs.append(hs[-1] + a[t + 1] * 2.0)
    assert_close(got[0], hs[1:])
    assert_close(got[1], a[:3] * b)
    assert_close(got[2], xs[2:])


@pytest.mark.parametrize("mode", MODES)
def test_non_recurrent_map_and_return_list(mode):
    X = T.dmatrix("X")
    out, _ = scan(lambda r: T.sum(r) * 2, sequences=X)
    assert_close(fn([X], out, mode)(np.arange(6.0).reshape(3, 2)), [2.0, 10.0, 18.0])
    outs, _ = scan(lambda r: T.sum(r), sequences=X, return_list=True)
    assert isinstance(outs, list) and len(outs) == 1
    two, _ = scan(lambda r: [r * 2, T.sum(r)], sequences=X)  # no outputs_info: every output is a map
    got = fn([X], two, mode)(np.ones((2, 3)))
    assert got[0].shape == (2, 3) and got[1].shape == (2,)


@pytest.mark.parametrize("mode", MODES)
def test_n_steps_with_sequences_and_shortest_sequence(mode):
    u, v = T.dvector("u"), T.dvector("v")
    out, _ = scan(lambda a, b: a + b, sequences=[u, v])  # shortest sequence decides
    assert_close(fn([u, v], out, mode)([1.0, 2.0, 3.0], [10.0, 20.0]), [11.0, 22.0])
    n = T.lscalar("n")
    out, _ = scan(lambda a: a * 2, sequences=u, n_steps=n)  # n_steps given: used exactly
    f = fn([u, n], out, mode)
    assert_close(f([1.0, 2.0, 3.0], 2), [2.0, 4.0])
    with pytest.raises(ValueError, match="fewer than the 4 steps"):
        f([1.0, 2.0, 3.0], 4)


@pytest.mark.parametrize("mode", MODES)
def test_weak_python_initial_value_adapts(mode):
    v = T.dvector("v")
    out, _ = scan(lambda x_t, acc: acc + x_t, sequences=v, outputs_info=0)
    assert out.dtype == "float64"
    assert_close(fn([v], out, mode)([0.5, 1.5]), [0.5, 2.0])


@pytest.mark.parametrize("mode", MODES)
def test_int_counter_and_float32(mode):
    v = T.fvector("v")
    (c, s), _ = scan(lambda x_t, c, s: (c + 1, s + x_t), sequences=v,
                     outputs_info=[T.constant(np.int64(0)), T.constant(np.float32(0))])
    assert c.dtype == "int64" and s.dtype == "float32"
    got = fn([v], [c, s], mode)(np.ones(3, "float32"))
    np.testing.assert_array_equal(got[0], [1, 2, 3])
    assert got[1].dtype == np.float32


@pytest.mark.parametrize("mode", MODES)
def test_nested_scan(mode):
    M = T.dmatrix("M")

    def row_norm2(row):
        s, _ = scan(lambda x, acc: acc + x * x, sequences=row, outputs_info=T.constant(0.0))
        return s[-1]

    out, _ = scan(row_norm2, sequences=M)
    assert_close(fn([M], out, mode)([[1.0, 2.0], [3.0, 4.0]]), [5.0, 25.0])


@pytest.mark.parametrize("mode", MODES)
def test_shared_variables_and_strict(mode):
    w = ccgrad.function_module.__dict__.get("shared")
    if w is None:  # no ccgrad.shared yet: make one directly
        w = SharedVariable(TensorType("float64", shape=()), np.array(3.0), name="w")
    else:
        w = w(np.array(3.0), name="w")
    v = T.dvector("v")
    out, _ = scan(lambda x_t: x_t * w, sequences=v)
    assert any(n is w for n in scan_nodes(out)[0].inputs)  # an implicit input of the node
    assert_close(fn([v], out, mode)([1.0, 2.0]), [3.0, 6.0])
    from ccgrad.function import MissingInputError

    with pytest.raises(MissingInputError):
        scan(lambda x_t: x_t * w, sequences=v, strict=True)
    out, _ = scan(lambda x_t, w: x_t * w, sequences=v, non_sequences=w, strict=True)
    assert_close(fn([v], out, mode)([1.0, 2.0]), [3.0, 6.0])


# ---------------------------------------------------------------------------------------------
# representation


def test_scan_node_lists_every_dependency():
    """Implicitly captured outer variables and loop-invariant expressions become inputs of the
    node; the inner graph has no free variables."""
    x, z = T.dvector("x"), T.dscalar("z")
    out, _ = scan(lambda i: x[i] * T.exp(z), sequences=T.arange(3))
    (node,) = scan_nodes(out)
    op = node.op
    inner_leaves = graph_inputs(op.fgraph.outputs, stop=op.fgraph.inputs)
    assert all(any(v is w for w in op.fgraph.inputs) for v in inner_leaves)
    assert any(v is x for v in node.inputs)
    assert not any(isinstance(n.op, type(T.exp(z).owner.op)) and n.op == T.exp(z).owner.op
                   for n in op.fgraph.toposort())  # exp(z) is computed once, outside the loop
    assert set(graph_inputs([out])) == {x, z}


def test_structural_equality_and_printing():
    def build(v):
        out, _ = scan(lambda x_t, acc: acc + x_t, sequences=v, outputs_info=T.constant(0.0), name="cumsum")
        return out

    a, b = build(T.dvector("a")), build(T.dvector("b"))
    assert a.owner.op == b.owner.op and hash(a.owner.op) == hash(b.owner.op)
    c, _ = scan(lambda x_t, acc: acc * x_t, sequences=T.dvector("c"), outputs_info=T.constant(1.0))
    assert c.owner.op != a.owner.op
    assert ccgrad.pp(a).startswith("scan{cumsum}(")
    assert "Scan{cumsum" in str(a.owner.op)
    assert "Scan{cumsum" in ccgrad.printing.debugprint(a, file="str")


def test_static_shapes_and_infer_shape():
    X = T.TensorType("float64", shape=(5, 3))("X")
    W = T.dmatrix("W")
    ys, _ = scan(lambda x_t, W: T.dot(W, x_t), sequences=X, non_sequences=W)
    assert ys.type.shape == (5, None)
    node = ys.owner
    shapes = [tuple(T.shape_i(i, k) for k in range(i.ndim)) for i in node.inputs]
    (shp,) = node.op.infer_shape(node, shapes)
    f = ccgrad.function([X, W], list(shp), mode="py", on_unused_input="ignore")
    assert [int(s) for s in f(np.ones((5, 3)), np.ones((4, 3)))] == [5, 4]
    h, _ = scan(lambda h: h * 2, outputs_info=T.dvector("h0"), n_steps=4)
    assert h.type.shape == (4, None)
    one, _ = scan(lambda h: h * 2, outputs_info=T.dscalar("s"), n_steps=1)
    assert one.type.shape == (None,)  # the time axis is never broadcastable
    until_out, _ = scan(lambda h: (h * 2, until(h > 3)), outputs_info=T.dscalar("s"), n_steps=4)
    assert until_out.type.shape == (None,)
    with pytest.raises(NotImplementedError):
        until_out.owner.op.infer_shape(until_out.owner, [(), (1,)])


def test_connection_pattern():
    n = T.lscalar("n")
    x, h0, w = T.dvector("x"), T.dscalar("h0"), T.dscalar("w")
    (a, _b), _ = scan(lambda x_t, h, w: (h * w, x_t * 2), sequences=x, outputs_info=[h0, None], non_sequences=w,
                     n_steps=n)
    node = a.owner
    pattern = node.op.connection_pattern(node)
    by_input = {id(v): row for v, row in zip(node.inputs, pattern)}
    assert pattern[0] == [False, False]  # n_steps
    assert by_input[id(x)] == [False, True]
    assert by_input[id(w)] == [True, False]


# ---------------------------------------------------------------------------------------------
# errors


def test_build_errors():
    v = T.dvector("v")
    with pytest.raises(ValueError, match="number of steps"):
        scan(lambda: T.constant(1.0), outputs_info=None)
    with pytest.raises(TypeError, match="dtype float32"):
        scan(lambda x_t, acc: acc + x_t, sequences=v, outputs_info=T.constant(np.float32(0)))
    with pytest.raises(TypeError, match=r"carried output 0|output 0"):
        scan(lambda acc: T.stack([acc, acc]), outputs_info=T.dvector("s"), n_steps=2)  # ndim changes
    with pytest.raises(ValueError, match="outputs_info"):
        scan(lambda x_t, acc: (acc + x_t, acc), sequences=v, outputs_info=[T.constant(0.0)])
    with pytest.raises(ValueError, match="initial state"):
        scan(lambda a: a, outputs_info=dict(taps=[-1]), n_steps=2)
    with pytest.raises(ValueError, match="negative"):
        scan(lambda a: a, outputs_info=dict(initial=v, taps=[0]), n_steps=2)
    with pytest.raises(ValueError, match=">= 0"):
        scan(lambda a: a * 2, outputs_info=T.dscalar("s"), n_steps=-2)
    with pytest.raises(ValueError, match="n_steps"):
        scan(lambda a: a * 2, outputs_info=T.dscalar("s"), n_steps=T.dscalar("f"))
    with pytest.raises(TypeError, match="0-d"):
        scan(lambda a: a * 2, sequences=T.dscalar("s"))
    with pytest.raises(ValueError, match="step function must return"):
        scan(lambda a: "nonsense", sequences=v)
    with pytest.raises(NotImplementedError, match="updates"):
        w = SharedVariable(TensorType("float64", shape=()), np.array(1.0), name="w")
        scan(lambda a: (a, {w: w + 1}), sequences=v)
    with pytest.raises(TypeError, match="scalar"):
        until(T.dvector("c"))


@pytest.mark.parametrize("mode", MODES)
def test_runtime_errors(mode):
    s = T.dvector("s")
    grow, _ = scan(lambda acc: T.concatenate([acc, acc]), outputs_info=s, n_steps=2)
    with pytest.raises(ValueError, match="keep its shape"):
        fn([s], grow, mode)([1.0])
    n = T.lscalar("n")
    ragged, _ = scan(lambda i: T.arange(i), sequences=T.arange(n))
    with pytest.raises(ValueError, match="keep their shape"):
        fn([n], ragged, mode)(3)


# ---------------------------------------------------------------------------------------------
# batch rule: the batched loop against a Python loop over the batch


def _vmap_check(inputs, outputs, values, flags, batch=3):
    fg = FunctionGraph(inputs, outputs)
    new_in = [TensorType(v.dtype, shape=(None, *v.type.shape))(v.name) if f else v for v, f in zip(inputs, flags)]
    outs, out_b = scan_ops._batch_graph(fg, new_in, flags)
    f = ccgrad.function(new_in, outs, mode="py", on_unused_input="ignore")
    ref = ccgrad.function(inputs, outputs, mode="py", on_unused_input="ignore")
    bvals = [np.stack([v + 0.1 * b for b in range(batch)]) if fl else v for v, fl in zip(values, flags)]
    got = f(*bvals)
    for b in range(batch):
        want = ref(*[bv[b] if fl else bv for bv, fl in zip(bvals, flags)])
        for g, w, ob in zip(got, want, out_b):
            assert_close(g[b] if ob else g, w)
    return out_b


@pytest.mark.parametrize("flags", [(True, False, False), (False, True, False), (False, False, True),
                                   (True, True, True)])
def test_batch_rule_rnn(flags):
    W, X, h0 = T.dmatrix("W"), T.dmatrix("X"), T.dvector("h0")
    hs, _ = scan(lambda x_t, h, W: T.tanh(T.dot(W, h) + x_t), sequences=X, outputs_info=h0, non_sequences=W)
    ys, _ = scan(lambda x_t, W: T.dot(W, x_t), sequences=X, non_sequences=W)
    rng = np.random.default_rng(0)
    vals = [rng.uniform(-0.5, 0.5, (3, 3)), rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, 3)]
    out_b = _vmap_check([W, X, h0], [hs, ys], vals, list(flags))
    assert out_b == [True, flags[0] or flags[1]]


def test_batch_rule_taps_and_nested():
    x0, c = T.dvector("x0"), T.dscalar("c")
    fib, _ = scan(lambda a, b, c: a * c + b, outputs_info=dict(initial=x0, taps=[-2, -1]), non_sequences=c,
                  n_steps=4)
    _vmap_check([x0, c], [fib], [np.array([1.0, 2.0]), np.array(0.5)], [False, True])
    M = T.dmatrix("M")

    def row_sum(row):
        s, _ = scan(lambda x, acc: acc + x * x, sequences=row, outputs_info=T.constant(0.0))
        return s[-1]

    rs, _ = scan(row_sum, sequences=M)
    _vmap_check([M], [rs], [np.arange(6.0).reshape(3, 2)], [True])


def test_batch_rule_limits():
    v = T.dvector("v")
    (cnt, acc), _ = scan(lambda c, a, v: (c + 1, a + v, until(c + 1 >= 3)),
                         outputs_info=[T.constant(np.int64(0)), T.zeros_like(v)], non_sequences=v, n_steps=10)
    assert _vmap_check([v], [cnt, acc], [np.array([1.0, 2.0])], [True]) == [False, True]  # condition not batched
    p0, lim = T.dscalar("p0"), T.dscalar("lim")
    vals, _ = scan(lambda p, m: (p * 2, until(p * 2 > m)), outputs_info=p0, non_sequences=lim, n_steps=10)
    fg = FunctionGraph([p0, lim], [vals])
    with pytest.raises(NotImplementedError, match="until"):
        scan_ops._batch_graph(fg, [p0, T.dvector("lims")], [False, True])
    node = vals.owner
    with pytest.raises(NotImplementedError, match="number of steps"):
        node.op.batch(node, [T.lvector("ns"), *node.inputs[1:]], [True] + [False] * (len(node.inputs) - 1))


# ---------------------------------------------------------------------------------------------
# the Theano namespace


@pytest.mark.parametrize("mode", MODES)
def test_scan_module_namespace(mode):
    assert scan_module.scan is scan and scan_module.until is until
    assert scan_ops.scan is scan and scan_ops.until is until  # also reachable from the op module
    v = T.dvector("v")
    m, _ = scan_module.map(lambda x: x * 2, sequences=v)
    r, _ = scan_module.reduce(lambda x, acc: acc + x, sequences=v, outputs_info=T.constant(0.0))
    fl, _ = scan_module.foldl(lambda x, acc: acc * 10 + x, sequences=v, outputs_info=T.constant(0.0))
    fr, _ = scan_module.foldr(lambda x, acc: acc * 10 + x, sequences=v, outputs_info=T.constant(0.0))
    got = fn([v], [m, r, fl, fr], mode)([1.0, 2.0, 3.0])
    assert_close(got[0], [2.0, 4.0, 6.0])
    assert_close(got[1], 6.0)
    assert_close(got[2], 123.0)
    assert_close(got[3], 321.0)
