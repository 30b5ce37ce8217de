"""Graph optimization: the ordered PIPELINE of rewrite phases and `optimize()`."""

from __future__ import annotations

from ccgrad.graph import FunctionGraph


def optimize(fgraph: FunctionGraph) -> FunctionGraph:
    """Return the optimized equivalent of `fgraph` (same inputs, equivalent outputs)."""
    return fgraph
