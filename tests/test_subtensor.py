"""Indexing beyond the op table: Python slice semantics for every sign combination, static
shapes, infer_shape, batch rules, op identity, set/inc builders, printing and error messages."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad.ops import indexspec as IS
from ccgrad.ops import subtensor as ST
from ccgrad.printing import pp
from tests.test_shape_ops import check_batch, check_infer_shape

BOUNDS = [None, -7, -4, -1, 0, 1, 3, 6]
STEPS = [None, 1, 2, 3, -1, -2, -3]


def test_slice_length_formula_matches_python():
    """sym_slice_len with every field symbolic, evaluated on vectors of all combinations."""
    n, a, b, s = (T.lvector(k) for k in "nabs")
    for has_start, has_stop in itertools.product([False, True], repeat=2):
        combos = [(nn, st, sp, sd) for nn in range(0, 6)
                  for st in (BOUNDS[1:] if has_start else [None])
                  for sp in (BOUNDS[1:] if has_stop else [None])
                  for sd in STEPS[1:]]
        cols = [np.array([c[k] if c[k] is not None else 0 for c in combos], "int64") for k in range(4)]
        length = IS.sym_slice_len(n, (a if has_start else None, b if has_stop else None, s))
        got = length.eval({n: cols[0], a: cols[1], b: cols[2], s: cols[3]})
        want = [len(range(nn)[slice(st, sp, sd)]) for nn, st, sp, sd in combos]
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("symbolic", [False, True])
def test_slices_match_numpy(symbolic):
    x = T.dvector("x")
    data = np.arange(6.0)
    i, j, k = T.lscalar("i"), T.lscalar("j"), T.lscalar("k")
    for start, stop, step in itertools.product(BOUNDS[:6], BOUNDS[2:], STEPS):
        want = data[start:stop:step]
        if symbolic:
            out = x[None if start is None else i:None if stop is None else j:None if step is None else k]
            vals = {x: data, i: start or 0, j: stop or 0, k: step or 1}
            got = out.eval({v: val for v, val in vals.items() if v in ccgrad.graph.ancestors([out])})
        else:
            out = x[start:stop:step]
            got = out.eval({x: data})
        np.testing.assert_array_equal(got, want, err_msg=f"[{start}:{stop}:{step}]")


def test_static_shapes():
    x = T.matrix("x", dtype="float64", shape=(5, None))
    assert x[1:3].type.shape == (2, None)
    assert x[::-1, 2].type.shape == (5,)
    assert x[-2:, ::2].type.shape == (2, None)
    assert x[T.lscalar("i"):].type.shape == (None, None)
    assert x[::T.lscalar("s")].type.shape == (None, None)
    assert x[:, None].type.shape == (5, 1, None)
    v = T.TensorType("int64", shape=(4,))("v")
    assert x[v].type.shape == (4, None)
    assert x[v, 0].type.shape == (4,)
    w = T.TensorType("int64", shape=(2, 1))("w")
    assert x[w, v].type.shape == (2, 4)
    y = T.tensor3("y", dtype="float64")
    assert y[v, :, v].type.shape == (4, None)
    assert y[:, v, v].type.shape == (None, 4)
    assert T.arange(x.shape[0]).type.shape == (5,)
    with pytest.raises(IndexError, match="axis 0 with length 5"):
        x[5]
    with pytest.raises(IndexError, match="broadcast"):
        x[v, T.TensorType("int64", shape=(3,))("u")]


def test_infer_shape_indexing():
    x = T.dmatrix("x")
    y = T.dtensor3("y")
    i, j, s = T.lscalar("i"), T.iscalar("j"), T.bscalar("s")
    v, w = T.lvector("v"), T.lmatrix("w")
    outs = [x[1:], x[i], x[i:j:s, ::-1], x[:, -2:], x[None, ..., i], x[v], x[v, i], x[:, v], x[w, v],
            y[v, :, v], y[:, v, v], y[1:, v, :1], T.set_subtensor(x[i:, v], 1.0), T.inc_subtensor(x[v], 1.0)]
    vals = {x: np.zeros((4, 5)), y: np.zeros((3, 4, 5)), v: np.array([0, 2, -1]), w: np.array([[1], [0]]),
            i: 1, j: -1, s: -1}
    for sv, iv in [(-1, 3), (2, 0), (1, -4)]:
        vals[s], vals[i] = sv, iv
        check_infer_shape(outs, vals)


def test_equal_indexings_give_equal_ops():
    x = T.dmatrix("x")
    assert x[1:].owner.op == x[1:, :].owner.op == x[1::1].owner.op
    assert x[0:].owner.op == x[:].owner.op
    assert x[..., 2].owner.op == x[:, 2].owner.op
    assert x[T.constant(2)].owner.op == x[2].owner.op
    assert isinstance(x[[0, 1]].owner.op, ST.AdvancedSubtensor1)
    assert isinstance(x[[0, 1], :].owner.op, ST.AdvancedSubtensor1)
    assert isinstance(x[:, [0, 1]].owner.op, ST.AdvancedSubtensor)
    assert hash(x[1:].owner.op) == hash(ST.Subtensor(((1, None, None),)))


def test_fill_spec_rebuilds_the_index():
    x, i, v = T.dtensor3("x"), T.lscalar("i"), T.lvector("v")
    for out in [x[1:i:-1, i], x[v, :, i], x[::2, v, 1:]]:
        node = out.owner
        again = node.inputs[0][IS.fill_spec(node.op.spec, node.inputs[1:])]
        assert again.owner.op == node.op and list(again.owner.inputs) == list(node.inputs)


def test_set_inc_builders():
    x, y, i = T.dmatrix("x"), T.dvector("y"), T.lvector("i")
    a = np.arange(6.0).reshape(3, 2)
    out = T.set_subtensor(x[i, 0], y)
    assert isinstance(out.owner.op, ST.AdvancedIncSubtensor) and out.type == x.type
    np.testing.assert_array_equal(out.eval({x: a, y: [7.0, 8.0], i: [2, 0]}), [[8, 1], [2, 3], [7, 5]])
    inc = T.inc_subtensor(x[i], 1.0, set_instead_of_inc=True)
    assert inc.owner.op.set_instead_of_inc
    with pytest.raises(TypeError, match="result of indexing"):
        T.inc_subtensor(x.shape[0], 1)
    with pytest.raises(TypeError, match="cannot be stored"):
        T.set_subtensor(T.lvector("l")[0], 1.5)


def test_repeated_advanced_increments_accumulate_and_differentiate():
    x, y, i = T.dvector("x"), T.dvector("y"), T.lvector("i")
    out = T.inc_subtensor(x[i], y)
    cost = T.sum(out ** 2)
    gx, gy = T.grad(cost, [x, y])
    vals = {x: np.array([1.0, 2.0, 3.0]), y: np.array([1.0, 10.0, 100.0]), i: np.array([0, 2, 0])}
    res = out.eval(vals)
    np.testing.assert_array_equal(res, [102.0, 2.0, 13.0])
    np.testing.assert_array_equal(gx.eval(vals), 2 * res)
    np.testing.assert_array_equal(gy.eval(vals), 2 * res[[0, 2, 0]])


def test_nll_pattern_gradient():
    p, y = T.dmatrix("p"), T.lvector("y")
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    g = T.grad(cost, p)
    pv = np.full((3, 4), 0.25)
    want = np.zeros((3, 4))
    want[[0, 1, 2], [1, 3, 1]] = -4.0 / 3
    np.testing.assert_allclose(g.eval({p: pv, y: [1, 3, 1]}), want)


def test_runtime_errors_name_axis_index_length():
    x, i = T.dmatrix("x"), T.lscalar("i")
    with pytest.raises(IndexError, match="index 7 is out of bounds for axis 1 with length 3"):
        x[0, i].eval({x: np.zeros((2, 3)), i: 7})
    v = T.lvector("v")
    with pytest.raises(IndexError, match="index -3 is out of bounds for axis 0 with length 2"):
        x[v].eval({x: np.zeros((2, 3)), v: [0, -3]})
    with pytest.raises(NotImplementedError, match="boolean"):
        x[x > 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]


def test_pp_indexing():
    x, i, v, y = T.dmatrix("x"), T.lscalar("i"), T.lvector("v"), T.dscalar("y")
    assert pp(x[1:3, i]) == "x[1:3, i]"
    assert pp(x[::-1]) == "x[::-1]"
    assert pp(x[v]) == "x[v]"
    assert pp(x[i:, v]) == "x[i:, v]"
    assert pp(T.set_subtensor(x[v, 0], y)) == "set_subtensor(x[v, 0], y)"
    assert pp(T.inc_subtensor(x[:], y)) == "inc_subtensor(x[:], y)"
    assert str(x[1:, i].owner.op) == "Subtensor{1:, i}"


M = np.arange(12.0).reshape(3, 4)
T3 = np.arange(24.0).reshape(2, 3, 4)
IV = np.array([2, 0, 2])


@pytest.mark.parametrize("case", [
    "sub_x", "sub_i", "sub_i_second", "sub_x_i", "sub_slice_sym_x", "adv1_x", "adv1_idx", "adv1_both", "adv_x_contig",
    "adv_x_noncontig", "adv_idx", "adv_x_idx_noncontig", "inc_x", "inc_y", "inc_both", "inc_y_short",
    "adv1_inc_x", "adv1_inc_y", "adv_inc_noncontig_y", "adv_inc_noncontig_x"])
def test_batch_rules(case):
    table = {
        "sub_x": (lambda x: x[1:, ::-1], [M], [True]),
        "sub_i": (lambda x, i: x[i, 1:], [M, np.int64(-1)], [False, True]),
        "sub_i_second": (lambda x, i: x[1:, i], [M, np.int64(-1)], [False, True]),
        "sub_x_i": (lambda x, i: x[:, i], [M, np.int64(2)], [True, True]),
        "sub_slice_sym_x": (lambda x, i: x[i:], [M, np.int64(1)], [True, False]),
        "adv1_x": (lambda x, v: x[v], [M, IV], [True, False]),
        "adv1_idx": (lambda x, v: x[v], [M, IV], [False, True]),
        "adv1_both": (lambda x, v: x[v], [M, IV], [True, True]),
        "adv_x_contig": (lambda x, v: x[:, v, v], [T3, IV], [True, False]),
        "adv_x_noncontig": (lambda x, v: x[v, :, v], [T3, IV[:2] - 1], [True, False]),
        "adv_idx": (lambda x, v, w: x[v, w], [M, IV, np.array([3, 0, 1])], [False, False, True]),
        "adv_x_idx_noncontig": (lambda x, v, w: x[v, :, w], [T3, np.array([1, 0]), np.array([3, 0])],
                                [True, True, False]),
        "inc_x": (lambda x, y: T.inc_subtensor(x[1:, ::2], y), [M, np.ones(2)], [True, False]),
        "inc_y": (lambda x, y: T.set_subtensor(x[1:, ::2], y), [M, np.ones(2)], [False, True]),
        "inc_both": (lambda x, y: T.inc_subtensor(x[0], y), [M, np.ones(4)], [True, True]),
        "inc_y_short": (lambda x, y: T.inc_subtensor(x[:2], y), [M, np.float64(2.0)], [False, True]),
        "adv1_inc_x": (lambda x, y, v: T.inc_subtensor(x[v], y), [M, np.ones(4), IV], [True, False, False]),
        "adv1_inc_y": (lambda x, y, v: T.set_subtensor(x[v], y), [M, np.ones((3, 4)), IV], [False, True, False]),
        "adv_inc_noncontig_y": (lambda x, y, v: T.inc_subtensor(x[v, :, v], y), [T3, np.ones((2, 3)), IV[:2] - 1],
                                [False, True, False]),
        "adv_inc_noncontig_x": (lambda x, y, v: T.inc_subtensor(x[v, :, v], y), [T3, np.ones(3), IV[:2] - 1],
                                [True, False, False]),
    }
    build, values, flags = table[case]
    check_batch(build, values, flags)


WRITES = [  # (build(x, y, *idx), x shape, y shape, index values)
    (lambda x, y, i: T.inc_subtensor(x[i], y), (4, 3), (3,), [np.array([1, 1, -1])]),
    (lambda x, y, i: T.set_subtensor(x[i], y), (4, 3), (3,), [np.array(2)]),
    (lambda x, y, i: T.inc_subtensor(x[:, i], y), (4, 3), (4, 2), [np.array([0, 2])]),
    (lambda x, y, i, j: T.inc_subtensor(x[1:, i, j], y), (3, 4, 5), (2, 2), [np.array([3, 0]), np.array(4)]),
    (lambda x, y, i, j: T.set_subtensor(x[i, :, j], y), (3, 4, 5), (2, 4), [np.array([2, 0]), np.array([1, 1])]),
]


@pytest.mark.parametrize("k", range(len(WRITES)))
@pytest.mark.parametrize("pattern", ["idx", "x_idx", "all"])
def test_batch_over_write_index_matches_a_loop(k, pattern):
    """A batched index of a write: each batch element uses its own index values."""
    from ccgrad.evaluate import evaluate
    from ccgrad.graph import TensorType

    fn, xs, ys, idx = WRITES[k]
    nb, rng = 3, np.random.default_rng(k)
    ins = [TensorType("float64", shape=(None,) * len(xs))("x"), TensorType("float64", shape=(None,) * len(ys))("y")]
    ins += [TensorType("int64", shape=(None,) * v.ndim)(f"i{n}") for n, v in enumerate(idx)]
    out = fn(*ins)
    node = out.owner
    flags = [pattern != "idx", pattern == "all"] + [True] * len(idx)
    vals = [rng.standard_normal((nb,) + xs if flags[0] else xs), rng.standard_normal((nb,) + ys if flags[1] else ys)]
    vals += [np.stack([rng.permutation(v.ravel()).reshape(v.shape) if v.ndim else (v - e) % xs[0]
                       for e in range(nb)]) for v in idx]  # different indices per batch element
    b_ins = [TensorType(v.dtype, shape=(None,) * (v.ndim + f))(f"b{n}") for n, (v, f) in enumerate(zip(ins, flags))]
    outs, out_b = node.op.batch(node, b_ins, flags)
    got = evaluate(outs, dict(zip(b_ins, vals)))[0]
    assert out_b == [True]
    for e in range(nb):
        one = {v: (val[e] if f else val) for v, val, f in zip(ins, vals, flags)}
        np.testing.assert_array_equal(got[e], evaluate([out], one)[0])
