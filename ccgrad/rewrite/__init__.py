"""Graph optimization: the ordered PIPELINE of rewrite phases and `optimize()`.

jacobian -> canonicalize -> stabilize -> specialize -> scan -> structure -> fuse.  scan drops
the history of loop states used only through their final value (ccgrad.rewrite.scan);
structure builds banded Jacobians/Hessians directly (ccgrad.rewrite.structure).  jacobian replaces the seed's
per-row Jacobian/Hessian loops by one vectorized sweep (ccgrad.rewrite.jacobian; it must see the
graph as the user built it).  canonicalize, stabilize and specialize are tables of named rules
run by the engine to a fixed point (ccgrad.rewrite.engine); fuse groups elementwise regions into
Fused nodes (ccgrad.rewrite.fuse).  `CCGRAD_DEBUG=rewrite` traces every rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ccgrad.graph import FunctionGraph, Variable
from ccgrad.rewrite.canonicalize import CANONICALIZE
from ccgrad.rewrite.engine import Phase
from ccgrad.rewrite.fuse import fuse_graph
from ccgrad.rewrite.jacobian import jacobian_pass
from ccgrad.rewrite.scan import scan_pass
from ccgrad.rewrite.specialize import SPECIALIZE
from ccgrad.rewrite.stabilize import STABILIZE
from ccgrad.rewrite.structure import structure_pass

Step = Phase | Callable[[Sequence[Variable], Sequence[Variable]], list[Variable]]

PIPELINE: list[tuple[str, Step]] = [
    ("jacobian", jacobian_pass),
    ("canonicalize", CANONICALIZE),
    ("stabilize", STABILIZE),
    ("specialize", SPECIALIZE),
    ("scan", scan_pass),
    ("structure", structure_pass),
    ("fuse", fuse_graph),
]


def optimize(fgraph: FunctionGraph, until: str | None = None) -> FunctionGraph:
    """Return the optimized equivalent of `fgraph` (same inputs, equivalent outputs).

    until: stop after the phase of that name (e.g. "specialize" to skip fusion).
    """
    outputs: list[Variable] = list(fgraph.outputs)
    for name, step in PIPELINE:
        if isinstance(step, Phase):
            outputs = step.run(fgraph.inputs, outputs)
        else:
            outputs = step(fgraph.inputs, outputs)
        if name == until:
            break
    return FunctionGraph(fgraph.inputs, outputs)
