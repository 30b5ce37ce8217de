"""Structure rewrites for Jacobians: products with an identity matrix become diagonal matrices.

Vectorized Jacobians multiply a batched cotangent by the identity basis (an Eye node); for an
elementwise function the result is `c * Eye(n) * v[None, :]`, which is `diag(c * v)`: one write
of the diagonal into zeros instead of materializing Eye and multiplying n*n elements.
"""

from __future__ import annotations

from collections.abc import Sequence

from ccgrad.graph import Constant, FunctionGraph, Variable, builder, clone_replace
from ccgrad.ops.arrays import AllocDiag, Eye
from ccgrad.ops.elemwise import Elemwise


def _is_square_identity(v: Variable) -> bool:
    """An Eye(n, n, 0) node (same n variable, or equal constants, offset 0)."""
    node = v.owner
    if node is None or not isinstance(node.op, Eye):
        return False
    n, m, k = node.inputs
    if not (isinstance(k, Constant) and int(k.data) == 0):
        return False
    if n is m:
        return True
    return isinstance(n, Constant) and isinstance(m, Constant) and int(n.data) == int(m.data)


def _diagonal_of(f: Variable) -> Variable:
    """The values a (broadcastable) matrix factor takes on the diagonal, as a vector or 0-d."""
    s = f.type.shape
    if s[0] == 1 and s[1] == 1:
        return builder("dimshuffle")(f, ())
    if s[0] == 1:
        return builder("dimshuffle")(f, (1,))
    if s[1] == 1:
        return builder("dimshuffle")(f, (0,))
    return builder("diagonal")(f)


def structure_pass(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> list[Variable]:
    """Replace every mul(Eye(n), f1, ..., fk) of 2-d factors by diag(product of the factors'
    diagonals)."""
    fg = FunctionGraph(list(inputs), list(outputs))
    replace: dict[Variable, Variable] = {}
    for node in fg.toposort():
        op = node.op
        if not (isinstance(op, Elemwise) and op.scalar_op.name == "mul") or node.outputs[0].ndim != 2:
            continue
        eyes = [v for v in node.inputs if _is_square_identity(v)]
        if len(eyes) != 1:
            continue
        eye = eyes[0]
        factors = [_diagonal_of(v) for v in node.inputs if v is not eye]
        out = node.outputs[0]
        diag = None
        for f in factors:
            diag = f if diag is None else diag * f
        n = eye.owner.inputs[0]
        if diag is None:
            diag = Constant(eye.type.clone(shape=()), 1)
        if diag.ndim == 0:
            diag = builder("alloc")(diag, n)
        diag = builder("cast")(diag, out.dtype)
        replace[out] = AllocDiag(0).make_node(diag).outputs[0]
    if not replace:
        return list(outputs)
    return clone_replace(list(outputs), replace)
