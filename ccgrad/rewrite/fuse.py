"""The fuse phase: group maximal elementwise regions into Fused nodes (one loop nest each),
with a trailing reduction joining the region that feeds it.

A region grows from a root Elemwise node (visited from the outputs back) by absorbing the
Elemwise producers of its operands when
- every client of the producer's output is already in the region (so the value never has to
  be stored: regions have one output and can never form a cycle), the output is not a graph
  output, and
- the producer's output has the root's broadcast pattern (so the region computes each value
  once per element of one loop space; a producer of a broadcast-smaller value stays outside).
Producers are considered in decreasing topological position, which decides every client before
its producer.  A Reduce (sum/prod/max/min) whose input is such a region's root and is used only
by it joins as the region's reduction: the loop runs over the region's space and accumulates.
A region of a single elementwise op without reduction is not wrapped.

Scalar constants (every static dim 1, one element) are embedded in the program; other operands
become the Fused node's inputs, numbered in order of first use.  Deterministic: only graph order
and input order decide anything.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Sequence

from ccgrad import options as _options
from ccgrad.graph import Apply, Constant, FunctionGraph, Variable
from ccgrad.ops.elemwise import Elemwise
from ccgrad.ops.fused import REDUCE_KINDS, Fused
from ccgrad.printing import pp
from ccgrad.rewrite import engine

_OUTPUT = "output"


def fuse_graph(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> list[Variable]:
    """The outputs recomputed with Fused nodes for every fusable region."""
    order = FunctionGraph(list(inputs), list(outputs)).toposort()
    pos = {id(n): i for i, n in enumerate(order)}
    clients: dict[int, list] = {}
    for node in order:
        for v in node.inputs:
            clients.setdefault(id(v), []).append(node)
    for v in outputs:
        clients.setdefault(id(v), []).append(_OUTPUT)

    assigned: dict[int, int] = {}  # id(node) -> region number
    regions: list[tuple[list[Apply], Apply | None]] = []
    for node in reversed(order):
        if id(node) in assigned:
            continue
        root, red = None, None
        if type(node.op) is Elemwise:
            root = node
        elif type(node.op).__name__ == "Reduce" and node.op.kind in REDUCE_KINDS:
            p = node.inputs[0].owner
            if (p is not None and type(p.op) is Elemwise and id(p) not in assigned
                    and clients[id(node.inputs[0])] == [node]):
                root, red = p, node
        if root is None:
            continue
        members = _grow(root, pos, clients, assigned, order)
        if len(members) == 1 and red is None:
            continue
        k = len(regions)
        for m in members:
            assigned[id(m)] = k
        if red is not None:
            assigned[id(red)] = k
        regions.append((members, red))
    if not regions:
        return list(outputs)
    return _rebuild(order, outputs, regions, assigned)


def _grow(root: Apply, pos: dict[int, int], clients: dict[int, list], assigned: dict[int, int],
          order: list[Apply]) -> list[Apply]:
    """The region of `root`, in topological order."""
    pattern = root.outputs[0].broadcastable
    inside = {id(root)}
    members = [root]
    heap: list[int] = []

    def push(node: Apply) -> None:
        for v in node.inputs:
            p = v.owner
            if (p is not None and type(p.op) is Elemwise and id(p) in pos and id(p) not in inside
                    and id(p) not in assigned):
                heapq.heappush(heap, -pos[id(p)])

    push(root)
    while heap:
        p = order[-heapq.heappop(heap)]
        if id(p) in inside:
            continue
        out = p.outputs[0]
        if out.broadcastable != pattern:
            continue
        if not all(c is not _OUTPUT and id(c) in inside for c in clients[id(out)]):
            continue
        inside.add(id(p))
        members.append(p)
        push(p)
    members.sort(key=lambda n: pos[id(n)])
    return members


def _scalar_const(v: Variable) -> bool:
    return isinstance(v, Constant) and v.data.size == 1 and all(s == 1 for s in v.type.shape)


def _program(members: list[Apply], red: Apply | None, memo: dict[int, Variable]):
    """(steps, new inputs, reduce) for a region; inputs already mapped through `memo`."""
    refs: dict[int, tuple] = {}
    ins: list[Variable] = []
    steps = []
    for n in members:
        args = []
        for v in n.inputs:
            ref = refs.get(id(v))
            if ref is None:
                if _scalar_const(v):
                    ref = ("const", v.dtype, v.data.reshape(-1)[0].item())
                else:
                    ref = ("in", len(ins))
                    ins.append(memo.get(id(v), v))
                    refs[id(v)] = ref
            args.append(ref)
        steps.append((n.op.scalar_op, tuple(args), n.outputs[0].dtype))
        refs[id(n.outputs[0])] = ("step", len(steps) - 1)
    reduce = None if red is None else (red.op.kind, red.op.axis)
    return steps, ins, reduce


def _rebuild(order: list[Apply], outputs: Sequence[Variable], regions, assigned: dict[int, int]
             ) -> list[Variable]:
    memo: dict[int, Variable] = {}
    finals = {}
    for k, (members, red) in enumerate(regions):
        finals[id(red if red is not None else members[-1])] = k
    for node in order:
        k = finals.get(id(node))
        if k is not None:
            members, red = regions[k]
            steps, ins, reduce = _program(members, red, memo)
            new = Fused(steps, reduce).make_node(*ins).outputs[0] if ins else None
            old = node.outputs[0]
            if new is not None and new.type == old.type:
                memo[id(old)] = new
                if "rewrite" in _options.options.debug:
                    print(f"rewrite[fuse] {len(members) + (red is not None)} nodes -> {new.owner.op}: "
                          f"{pp(new)[:400]}", file=sys.stderr)
                continue
            if engine.STRICT and new is not None:
                raise engine.RewriteError(f"fusion changed {old.type!r} into {new.type!r}")
            for m in members + ([red] if red is not None else []):
                _copy(m, memo)
            continue
        if id(node) in assigned:
            continue
        _copy(node, memo)
    return [memo.get(id(v), v) for v in outputs]


def _copy(node: Apply, memo: dict[int, Variable]) -> None:
    """Rebuild `node` over the rewritten inputs (the same node when none changed)."""
    ins = [memo.get(id(v), v) for v in node.inputs]
    if all(a is b for a, b in zip(ins, node.inputs)):
        return
    new = Apply(node.op, ins, [o.type for o in node.outputs])
    for o, n in zip(node.outputs, new.outputs):
        memo[id(o)] = n
