"""The Jacobian pattern: recognize the seed's hand-written Jacobian / Hessian loop

    scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]), non_sequences=[y, x])

(and Theano's `jacobian()`, which builds the same loop, with several wrt) and replace the Scan
by the vectorized Jacobian of `gradient.jacobian` -- one batched sweep instead of one reverse
sweep per row.  The Hessian form (y = T.grad(cost, x)) is the same pattern.

Recognition is by comparison, so it cannot misfire: from the loop's sequence
`arange(0, y.shape[0], 1)` we read y; the step's inner graph, with the loop's outer inputs put
back in and a fresh index i, must be structurally identical (graph fingerprint) to a freshly
built `T.grad(y[i], w)` for some variable w that y is built from (tried in order: graph leaves,
then intermediates nearest to y).

This is a pass over the graph as the user built it, not a rule of the fixed-point engine: the
engine merges equal nodes first, and the gradient of a merged graph is built differently (it
sums cotangents at the merged node) from the one the user's loop holds.  Run it first in the
pipeline: `("jacobian", jacobian_pass)`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ccgrad import dtypes
from ccgrad.fingerprint import fingerprint
from ccgrad.graph import (
    Apply,
    Constant,
    FunctionGraph,
    TensorType,
    Variable,
    clone_replace,
    graph_inputs,
    toposort,
)

__all__ = ["jacobian_pass", "scan_jacobian"]

MAX_CANDIDATES = 16  # wrt candidates tried per per-step output


def _const(v: Variable, value: int) -> bool:
    return isinstance(v, Constant) and v.data.ndim == 0 and v.data.item() == value


def _rows_of(stop: Variable) -> Variable | None:
    """y when `stop` is y.shape[0] (ShapeI{0}(y) or Subtensor{0}(Shape(y))) for a vector y."""
    node = stop.owner
    if node is None:
        return None
    name = type(node.op).__name__
    y = None
    if name == "ShapeI" and node.op.i == 0:
        y = node.inputs[0]
    elif name == "Subtensor" and node.op.spec == (0,):
        src = node.inputs[0].owner
        if src is not None and type(src.op).__name__ == "Shape":
            y = src.inputs[0]
    if y is None or y.ndim != 1 or y.dtype not in dtypes.FLOATS:
        return None
    return y


def _loop_rows(node: Apply) -> Variable | None:
    """y for a Scan looping i over arange(0, y.shape[0], 1) with no carries and no `until`."""
    op = node.op
    if op.n_seqs != 1 or op.n_carries != 0 or op.as_while or op.n_nit < 1:
        return None
    seq = node.inputs[1].owner
    if seq is None or type(seq.op).__name__ != "ARange" or seq.op.dtype not in dtypes.INTS:
        return None
    start, stop, step = seq.inputs
    if not (_const(start, 0) and _const(step, 1)):
        return None
    return _rows_of(stop)


def _candidates(y: Variable, out: Variable) -> list[Variable]:
    """Variables y is computed from whose type fits a gradient shaped like `out` (one row of the
    loop's output): graph leaves first, then intermediates nearest to y first."""
    row_ndim = out.ndim - 1
    row_shape = out.type.shape[1:]

    def fits(v: Variable) -> bool:
        return (v.ndim == row_ndim and v.dtype == out.dtype and not isinstance(v, Constant)
                and all(a is None or b is None or a == b for a, b in zip(v.type.shape, row_shape)))

    leaves = [v for v in graph_inputs([y]) if fits(v)]
    inner: list[Variable] = []
    seen = {id(v) for v in leaves}
    for n in reversed(toposort([y])):
        for v in (*n.outputs, *n.inputs):
            if id(v) not in seen and fits(v):
                seen.add(id(v))
                inner.append(v)
    return (leaves + inner)[:MAX_CANDIDATES]


def _steps_cover_rows(node: Apply, seq: Variable, stop: Variable) -> bool:
    """The loop runs len(seq) = stop steps (n_steps is seq.shape[0] or stop itself)."""
    n = node.inputs[0]
    if n is stop or n is seq:
        return True
    o = n.owner
    if o is not None and type(o.op).__name__ == "ShapeI" and o.op.i == 0 and o.inputs[0] is seq:
        return True
    return isinstance(n, Constant) and isinstance(stop, Constant) and n.data.item() == stop.data.item()


def _inline_step(node: Apply, i: Variable) -> list[Variable]:
    """The per-step outputs as outer expressions of the index i (inner inputs replaced by the
    loop's outer inputs)."""
    inner = node.op.fgraph
    outer = [i, *node.inputs[2:]]
    if len(inner.inputs) != len(outer):
        return []
    return clone_replace(list(inner.outputs[: node.op.n_nit]), dict(zip(inner.inputs, outer)))


def _grad_row(y: Variable, i: Variable, w: Variable) -> Variable | None:
    from ccgrad.gradient import grad

    try:
        return grad(y[i], w)
    except Exception:  # w not connected, or any misfit: not this candidate
        return None


def _same_graph(a: Variable, b: Variable) -> bool:
    """Structurally identical graphs over the same leaves (ops, parameters, constants' values,
    sharing; not names)."""
    if a is b:
        return True
    if a.type != b.type:
        return False
    leaves = graph_inputs([a, b])
    try:
        return fingerprint(FunctionGraph(leaves, [a])) == fingerprint(FunctionGraph(leaves, [b]))
    except (TypeError, ValueError):  # an op parameter without a stable fingerprint
        return False


def scan_jacobian(node: Apply) -> list[Variable] | None:
    """For a Scan node computing grad(y[i], w) for i in arange(y.shape[0]): its replacement,
    jacobian(y, w) vectorized (one entry per loop output); None when it is not that loop."""
    if type(node.op).__name__ != "Scan":
        return None
    y = _loop_rows(node)
    if y is None or not _steps_cover_rows(node, node.inputs[1], node.inputs[1].owner.inputs[1]):
        return None
    i = TensorType(node.op.fgraph.inputs[0].dtype, shape=())("i")
    steps = _inline_step(node, i)
    if len(steps) != len(node.outputs):
        return None
    wrt = []
    for out, step in zip(node.outputs, steps):
        for w in _candidates(y, out):
            g = _grad_row(y, i, w)
            if g is not None and _same_graph(g, step):
                wrt.append(w)
                break
        else:
            return None
    from ccgrad.gradient import jacobian

    jacs = jacobian(y, wrt)
    if any(j.type != o.type for j, o in zip(jacs, node.outputs)):
        return None  # the vectorized form knows other static shapes: keep the loop
    return jacs


def jacobian_pass(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> list[Variable]:
    """The pipeline step: every recognized Jacobian loop in the graph of `outputs` replaced by
    its vectorized computation (the rest of the graph is shared, not copied)."""
    replace: dict[Variable, Variable] = {}
    for node in toposort(list(outputs), stop=list(inputs)):
        if type(node.op).__name__ == "Scan":
            new = scan_jacobian(node)
            if new is not None:
                replace.update(zip(node.outputs, new))
    if not replace:
        return list(outputs)
    return clone_replace(list(outputs), replace)
