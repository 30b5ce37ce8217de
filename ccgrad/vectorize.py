"""Graph vectorization (vmap): rebuild a graph so that some of its leaves carry an extra
leading batch axis, by applying each op's batch rule in topological order.

Nodes whose inputs carry no batch axis are kept as they are (shared, not copied), so the
un-batched part of a graph -- e.g. the forward pass under a batched reverse sweep -- is computed
once.  This is what vectorized Jacobians and Hessians are built from (ccgrad.gradient).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ccgrad.graph import Apply, Variable, builder, toposort

__all__ = ["BatchRuleError", "NotBatchableError", "vectorize_graph", "vectorize_graph_flags"]


class BatchRuleError(TypeError):
    """An op's batch rule returned outputs inconsistent with the op's unbatched outputs."""


class NotBatchableError(NotImplementedError):
    """An op on the way cannot be batched with this pattern of batched inputs (e.g. a batched
    target shape would make the result ragged).  `node` is the unbatched node, `batched` the
    flags the rule was called with."""

    def __init__(self, message: str, node: Apply, batched: list[bool]):
        super().__init__(message)
        self.node = node
        self.batched = batched


def _check_batched_input(old: Variable, new: Variable) -> None:
    if not isinstance(new, Variable):
        raise TypeError(f"vectorize_graph: the replacement for {old} is a {type(new).__name__}, not a Variable")
    if new.ndim != old.ndim + 1:
        raise ValueError(
            f"vectorize_graph: the batched replacement for {old} ({old.type!r}) must have one more "
            f"(leading) axis; got {new.type!r}"
        )
    if new.dtype != old.dtype:
        raise TypeError(f"vectorize_graph: {old} is {old.dtype}, its batched replacement is {new.dtype}")
    for axis, (a, b) in enumerate(zip(old.type.shape, new.type.shape[1:])):
        if a is not None and b is not None and a != b:
            raise ValueError(
                f"vectorize_graph: {old} has static shape {old.type.shape}, its batched replacement "
                f"{new.type.shape} differs on axis {axis + 1}"
            )


def _check_rule(node: Apply, flags: list[bool], outs, out_batched) -> None:
    if len(outs) != len(node.outputs) or len(out_batched) != len(node.outputs):
        raise BatchRuleError(
            f"{node.op}.batch returned {len(outs)} outputs / {len(out_batched)} flags for "
            f"{len(node.outputs)} outputs"
        )
    for j, (old, new, b) in enumerate(zip(node.outputs, outs, out_batched)):
        if not isinstance(new, Variable):
            raise BatchRuleError(f"{node.op}.batch returned a {type(new).__name__} for output {j}")
        want = old.ndim + (1 if b else 0)
        if new.ndim != want or new.dtype != old.dtype:
            raise BatchRuleError(
                f"{node.op}.batch (batched inputs {flags}) returned output {j} of type {new.type!r} "
                f"(batched={b}); the unbatched output is {old.type!r}"
            )


def vectorize_graph_flags(outputs: Sequence[Variable], batched_inputs: Mapping[Variable, Variable],
                          trace: list | None = None) -> tuple[list[Variable], list[bool]]:
    """Like vectorize_graph, also returning for each output whether it carries the batch axis.

    trace: when a list, every batch-rule call is appended to it as (node, batched flags)."""
    memo: dict[int, tuple[Variable, bool]] = {}
    for old, new in batched_inputs.items():
        _check_batched_input(old, new)
        memo[id(old)] = (new, True)
    for node in toposort(list(outputs), stop=list(batched_inputs.keys())):
        got = [memo.get(id(v)) for v in node.inputs]
        if all(g is None for g in got):
            continue  # untouched: no input is batched or rebuilt
        ins = [v if g is None else g[0] for v, g in zip(node.inputs, got)]
        flags = [g is not None and g[1] for g in got]
        if not any(flags):
            # Inputs were rebuilt but none carries the batch axis: rebuild the node as it is.
            new_outs, out_flags = list(node.op.make_node(*ins).outputs), [False] * len(node.outputs)
        else:
            if trace is not None:
                trace.append((node, flags))
            try:
                new_outs, out_flags = node.op.batch(node, ins, flags)
            except NotImplementedError as exc:
                raise NotBatchableError(
                    f"vectorize_graph: {node.op} cannot be batched with batched inputs {flags}: {exc}",
                    node, flags) from exc
            new_outs, out_flags = list(new_outs), [bool(b) for b in out_flags]
        _check_rule(node, flags, new_outs, out_flags)
        for old, new, b in zip(node.outputs, new_outs, out_flags):
            memo[id(old)] = (new, b)
    res = [memo.get(id(v), (v, False)) for v in outputs]
    return [r[0] for r in res], [r[1] for r in res]


def vectorize_graph(outputs, batched_inputs: Mapping[Variable, Variable],
                    broadcast_unbatched: bool = False):
    """Rebuild `outputs` with every key of `batched_inputs` replaced by its value, a variable of
    the same dtype with one extra *leading* (batch) axis.  Returns the new outputs (a list, or
    one Variable when `outputs` is one).

    An output that does not depend on any batched input comes back unchanged (without a batch
    axis) unless `broadcast_unbatched` is set, which repeats it along a leading axis of the
    batch size (taken from the first batched input).  Raises NotBatchableError (a
    NotImplementedError) naming the op when some op on the way has no batch rule for its
    pattern of batched inputs.
    """
    single = isinstance(outputs, Variable)
    outs = [outputs] if single else list(outputs)
    new, flags = vectorize_graph_flags(outs, batched_inputs)
    if broadcast_unbatched and not all(flags):
        if not batched_inputs:
            raise ValueError("vectorize_graph: broadcast_unbatched needs at least one batched input")
        nb = builder("shape_i")(next(iter(batched_inputs.values())), 0)
        from ccgrad.ops.shape import batch_broadcast

        new = [v if b else batch_broadcast(v, nb) for v, b in zip(new, flags)]
    return new[0] if single else new
