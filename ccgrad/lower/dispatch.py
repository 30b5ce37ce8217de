"""Which emitter handles a node: elementwise nodes go to the loop builder, every other op to its
own `c_code` method (kept with the op's other facts)."""

from __future__ import annotations

from ccgrad.graph import Apply
from ccgrad.lower.values import CVal


def emit_node(ctx, node: Apply, ins: list[CVal]) -> list[CVal]:
    from ccgrad.lower.emit import LoweringError
    from ccgrad.lower.loops import emit_elemwise_node, emit_fused_node
    from ccgrad.ops.elemwise import Elemwise
    from ccgrad.ops.fused import Fused

    op = node.op
    if isinstance(op, Elemwise):
        return emit_elemwise_node(ctx, node, ins)
    if isinstance(op, Fused):
        return emit_fused_node(ctx, node, ins)
    if type(op).__name__ == "Scan":
        from ccgrad.lower.scan import emit_scan

        return emit_scan(ctx, node, ins)
    c_code = getattr(op, "c_code", None)
    if c_code is None:
        from ccgrad.lower.pending import PENDING

        c_code = PENDING.get(type(op).__name__)
        if c_code is not None:
            return list(c_code(ctx, node, ins))
    if c_code is None:
        raise LoweringError(f"{op} has no C emission (no c_code method)")
    return list(c_code(ctx, node, ins))
