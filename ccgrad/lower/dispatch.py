"""Which emitter handles a node: every op's own `c_code` method (kept with the op's other facts;
elementwise, fused and scan ops delegate to the loop builders in this package)."""

from __future__ import annotations

from ccgrad.graph import Apply
from ccgrad.lower.values import CVal


def emit_node(ctx, node: Apply, ins: list[CVal]) -> list[CVal]:
    from ccgrad.lower.emit import LoweringError

    c_code = getattr(node.op, "c_code", None)
    if c_code is None:
        raise LoweringError(f"{node.op} has no C emission (no c_code method)")
    return list(c_code(ctx, node, ins))
