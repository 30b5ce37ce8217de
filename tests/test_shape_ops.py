"""Shape ops beyond the op table: infer_shape and batch rules checked against evaluation, static
shapes, printing, build-time errors.  Also home of the infer_shape / batch checkers that
tests/test_subtensor.py and tests/test_arrays.py reuse."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad.tensor as T
from ccgrad.evaluate import evaluate
from ccgrad.graph import Constant, TensorType, toposort
from ccgrad.ops import shape as S
from ccgrad.ops import symint as SI
from ccgrad.printing import pp

# ---------------------------------------------------------------------------------------------
# Checkers


def check_infer_shape(outputs, givens: dict) -> int:
    """For every node under `outputs`: infer_shape (fed shape_i of the node's inputs) evaluates
    to the shapes of the evaluated outputs.  Returns the number of nodes checked."""
    outputs = outputs if isinstance(outputs, list) else [outputs]
    nodes = toposort(outputs)
    for node in nodes:
        in_shapes = [tuple(T.shape_i(v, k) for k in range(v.ndim)) for v in node.inputs]
        got = node.op.infer_shape(node, in_shapes)
        assert len(got) == len(node.outputs)
        flat = [s for shp in got for s in shp]
        for s in flat:
            assert s.dtype == "int64" and s.ndim == 0, f"{node.op}: infer_shape gave {s.type!r}"
        vals = evaluate(list(node.outputs) + flat, givens) if flat else evaluate(list(node.outputs), givens)
        outs, dims = vals[: len(node.outputs)], vals[len(node.outputs):]
        k = 0
        for o, shp in zip(outs, got):
            want = tuple(int(d) for d in dims[k:k + len(shp)])
            k += len(shp)
            assert want == o.shape, f"{node.op}: infer_shape says {want}, evaluation gave {o.shape}"
    return len(nodes)


def check_batch(build, values: list, batched: list[bool], nb: int = 3, seed: int = 0) -> None:
    """The batch rule of the last op applied by `build` agrees with a loop over examples.

    `values` gives one example value per input; batched inputs get nb different examples
    (perturbed floats, the same integers)."""
    rng = np.random.default_rng(seed)
    ins = [TensorType(np.asarray(v).dtype.name, shape=(None,) * np.ndim(v))(f"x{i}") for i, v in enumerate(values)]
    out = build(*ins)
    node = out.owner
    examples = []
    for v, b in zip(values, batched):
        v = np.asarray(v)
        if not b:
            examples.append(v)
        elif v.dtype.kind == "f":
            examples.append(np.stack([v + rng.uniform(-1, 1, v.shape).astype(v.dtype) for _ in range(nb)]))
        else:
            examples.append(np.stack([v] * nb))
    b_ins = [TensorType(ins[i].dtype, shape=(None,) * (ins[i].ndim + 1))(f"b{i}") if b else ins[i]
             for i, b in enumerate(batched)]
    for v in node.inputs:
        assert v in ins or isinstance(v, Constant), f"build must apply one op to the inputs, got {v}"
    env_in = [b_ins[ins.index(v)] if v in ins else v for v in node.inputs]
    flags = [v in ins and batched[ins.index(v)] for v in node.inputs]
    outs, out_b = node.op.batch(node, env_in, flags)
    got = evaluate(outs, {b_ins[i]: examples[i] for i in range(len(ins))})
    for k, (o, ob) in enumerate(zip(got, out_b)):
        per = []
        for e in range(nb):
            ex = {ins[i]: (examples[i][e] if batched[i] else examples[i]) for i in range(len(ins))}
            per.append(evaluate([node.outputs[k]], ex)[0])
        want = np.stack(per) if ob else per[0]
        if not ob:
            assert all(np.array_equal(p, per[0]) for p in per)
        assert o.dtype == want.dtype and o.shape == want.shape, f"{node.op}: {o.shape} vs {want.shape}"
        np.testing.assert_allclose(o, want, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------


def test_static_shapes_and_shape_i():
    x = T.matrix("x", dtype="float64", shape=(3, None))
    assert T.shape_i(x, 0).owner.op == S.ShapeI(0)
    assert SI.constant_value(x.shape[0]) == 3 and SI.constant_value(x.shape[1]) is None
    assert x.shape[-1].owner.op == S.ShapeI(1)
    with pytest.raises(IndexError):
        x.shape[2]
    with pytest.raises(IndexError):
        T.shape_i(x, -3)
    assert x.reshape((-1,)).type.shape == (None,)
    y = T.matrix("y", dtype="float64", shape=(3, 4))
    assert y.reshape((2, -1, 3)).type.shape == (2, 2, 3)
    assert y.flatten().type.shape == (12,)
    assert T.flatten(T.tensor3("t"), 2).ndim == 2
    assert y.reshape(y.shape[::-1]).type.shape == (None, None)  # a symbolic vector of length 2
    assert y.reshape(y.shape).type.shape == (3, 4)


def test_reshape_errors_name_shapes():
    x = T.matrix("x", dtype="float64", shape=(2, 3))
    with pytest.raises(ValueError, match=r"size 6.*\(4, 2\)"):
        x.reshape((4, 2))
    v = T.dvector("v")
    f = v.reshape((4, 2))
    with pytest.raises(ValueError, match=r"\(6,\).*\(4, 2\)"):
        f.eval({v: np.zeros(6)})
    with pytest.raises(TypeError):
        v.reshape((2.0, 3))
    with pytest.raises(ValueError, match="ndim"):
        v.reshape(T.lvector("s"))


def test_reshape_symbolic_minus_one_infer_shape():
    x, n, m = T.dmatrix("x"), T.lscalar("n"), T.iscalar("m")
    out = x.reshape((n, m, 2))
    a = np.arange(24.0).reshape(4, 6)
    for nv, mv in [(-1, 3), (2, -1), (6, 2)]:
        check_infer_shape(out, {x: a, n: nv, m: mv})
    check_infer_shape([x.flatten(), T.flatten(T.shape_padright(x), 2), x.reshape((-1, 2))], {x: a})


def test_infer_shape_existing_ops():
    x, v, n = T.dmatrix("x"), T.dvector("v"), T.bscalar("n")
    outs = [x.shape, x.T, x.dimshuffle("x", 1, "x", 0), T.alloc(v, n, 2, v.shape[0]),
            T.specify_shape_like(x, x), T.shape_padaxis(v, 0)]
    check_infer_shape(outs, {x: np.zeros((2, 5)), v: np.ones(3), n: 4})


@pytest.mark.parametrize("case", ["reshape", "reshape_sym", "dimshuffle", "alloc", "alloc_vec", "shape",
                                  "shape_i", "specify_x", "specify_ref", "specify_both"])
def test_batch_rules(case):
    m = np.arange(6.0).reshape(2, 3)
    table = {
        "reshape": (lambda x: x.reshape((3, -1)), [m], [True]),
        "reshape_sym": (lambda x, n: T.reshape(x, (n, 2)), [m, np.int64(3)], [True, False]),
        "dimshuffle": (lambda x: x.dimshuffle(1, "x", 0), [m], [True]),
        "alloc": (lambda x: T.alloc(x, 2, 3), [np.float64(1.5)], [True]),
        "alloc_vec": (lambda x: T.alloc(x, 4, 3), [np.ones(3)], [True]),
        "shape": (lambda x: T.shape(x), [m], [True]),
        "shape_i": (lambda x: T.shape_i(x, 1), [m], [True]),
        "specify_x": (lambda x, r: T.specify_shape_like(x, r), [m, m], [True, False]),
        "specify_ref": (lambda x, r: T.specify_shape_like(x, r), [m, m], [False, True]),
        "specify_both": (lambda x, r: T.specify_shape_like(x, r), [m, m], [True, True]),
    }
    build, values, flags = table[case]
    check_batch(build, values, flags)


def test_alloc_runtime_broadcast_rule():
    v = T.dvector("v")
    with pytest.raises(ValueError, match="static length 1"):
        T.alloc(v, 2, 3).eval({v: np.ones(1)})
    r = T.row("r", dtype="float64")
    assert T.alloc(r, 2, 3).eval({r: np.ones((1, 3))}).shape == (2, 3)


def test_pp_shape_ops():
    x = T.dmatrix("x")
    assert pp(x.reshape((2, -1))) == "reshape(x, (2, -1))"
    assert pp(x.flatten()) == "reshape(x, ((x.shape[0] * x.shape[1]),))"
    assert pp(x.shape[0]) == "x.shape[0]"
    assert pp(x.T) == "x.T"


def test_sym_int_helpers_fold():
    assert SI.sym_add(2, 3) == 5 and SI.sym_mul(4, SI.sym_sub(3, 1)) == 8
    assert SI.sym_ceildiv(7, 2) == 4 and SI.sym_ceildiv(-7, 2) == -3 and SI.sym_ceildiv(7, -2) == -3
    x = T.dvector("x")
    n = T.shape_i(x, 0)
    assert SI.sym_add(0, n) is n and SI.sym_mul(1, n) is n
    assert SI.sym_switch(True, 1, n) == 1
    e = SI.sym_max(0, SI.sym_sub(n, 2))
    assert int(e.eval({x: np.zeros(5)})) == 3 and int(e.eval({x: np.zeros(1)})) == 0
