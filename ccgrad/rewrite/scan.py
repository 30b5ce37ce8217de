"""Scan rewrite: drop the stored history of a carried state whose only use is its final value
(loop bodies themselves are optimized by specialize's optimize_scan_inner).

Gradients through scan read a carried state's final value as `join(initial, states)[-1]` (the
last new state, or the initial one after 0 steps); when every use of a carry's outputs has that
form, the Scan is rebuilt with `keep_last` for it, and the C loop keeps L + 1 rows instead of
one row per step (a 10x10 weight-gradient accumulator over 10,000 steps: 800 bytes, not 8 MB).
Loop-invariant values are already lifted out of bodies when a Scan is built (build_scan).
"""

from __future__ import annotations

from collections.abc import Sequence

from ccgrad.graph import FunctionGraph, Variable, clone_replace
from ccgrad.ops.arrays import Join
from ccgrad.ops.scan import Scan
from ccgrad.ops.subtensor import Subtensor


def scan_pass(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> list[Variable]:
    """Rebuild every Scan with an optimized body and keep_last where it applies."""
    outputs = list(outputs)
    done: set[int] = set()
    while True:
        fg = FunctionGraph(list(inputs), outputs)
        target = next((n for n in fg.toposort() if isinstance(n.op, Scan) and id(n.op) not in done), None)
        if target is None:
            return outputs
        replace = _rewrite(target, fg)
        if not replace:
            done.add(id(target.op))
            continue
        outputs = clone_replace(outputs, replace)
        done.update(id(v.owner.op) for v in replace.values() if v.owner is not None)


def _final_uses(node, c: int, clients) -> list[Variable] | None:
    """The `join(history, states)[-1]` variables reading carry c, if they are its only uses."""
    out = node.outputs[c]
    hist = node.inputs[1 + node.op.n_seqs + c]
    uses = clients.get(out, [])
    finals: list[Variable] = []
    for user, _ in uses:
        if user == "output" or not isinstance(user.op, Join) or user.op.axis != 0:
            return None
        if len(user.inputs) != 2 or user.inputs[0] is not hist or user.inputs[1] is not out:
            return None
        for reader, _ in clients.get(user.outputs[0], []):
            if reader == "output" or not isinstance(reader.op, Subtensor) or reader.op.spec != (-1,):
                return None
            finals.append(reader.outputs[0])
    return finals or None


def _rewrite(node, fg: FunctionGraph) -> dict[Variable, Variable]:
    op: Scan = node.op
    keep = list(op.keep_last)
    finals: dict[int, list[Variable]] = {}
    for c in range(op.n_carries):
        if not keep[c]:
            got = _final_uses(node, c, fg.clients)
            if got is not None:
                keep[c] = True
                finals[c] = got
    if not finals:
        return {}
    new_op = Scan(op.fgraph, op.n_seqs, op.carry_taps, op.n_nit, op.as_while, op.truncate_gradient, op.name,
                  keep_last=keep)
    new_outs = new_op.make_node(*node.inputs).outputs
    replace: dict[Variable, Variable] = {}
    for c, old in enumerate(node.outputs):
        if c in finals:
            for v in finals[c]:
                replace[v] = new_outs[c]
        else:
            replace[old] = new_outs[c]
    return replace
