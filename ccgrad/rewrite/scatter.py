"""Rules for gradient scatters: the vjp of indexing is `inc_subtensor(zeros[idx], g)`, and a
variable read through several indices (`x[1:]`, `x[:-1]`) gets a sum of such scatters, each into
its own zero buffer.  These rules let the scatters land in one buffer, in place:

- `a + inc_subtensor(zeros[idx], y) -> inc_subtensor(a[idx], y)` when `a` has the sum's type and
  provably its shape (then the zeros added nothing but their shape);
- `inc_subtensor(inc_subtensor(x[idx], a)[idx], b) -> inc_subtensor(x[idx], a + b)` for the same
  basic index (one pass over the region, and `a + b` fuses with its producers).

Rosenbrock's Hessian-vector product goes from three zero buffers, three scatters and two full
adds to one zero buffer and two in-place scatters.
"""

from __future__ import annotations

from ccgrad.graph import Apply, Variable
from ccgrad.rewrite.engine import Rewriter, rule
from ccgrad.rewrite.rules import elemwise_type, ew, is_const, mk, owner_is, same_axis_lengths

_INC_OPS = ("IncSubtensor", "AdvancedIncSubtensor1", "AdvancedIncSubtensor")


def _zeros(v: Variable) -> bool:
    """True when v is all zeros: a zero constant, or a fill / alloc of zero."""
    if is_const(v, 0):
        return True
    o = ew(v, "second")
    if o is not None:
        return is_const(o.inputs[1], 0)
    o = owner_is(v, "Alloc")
    return o is not None and is_const(o.inputs[0], 0)


def _scatter_into_zeros(v: Variable) -> Apply | None:
    """v's producer when v = inc_subtensor(zeros[idx], y) (increment, not set)."""
    o = v.owner
    if o is None or type(o.op).__name__ not in _INC_OPS or o.op.set_instead_of_inc:
        return None
    return o if _zeros(o.inputs[0]) else None


def _shape_source(v: Variable) -> Variable:
    """A variable with v's shape further up the graph: through scatters (their x), fills (their
    model) and elementwise ops (an operand with v's broadcast pattern)."""
    while v.owner is not None:
        o = v.owner
        name = type(o.op).__name__
        if name in _INC_OPS:
            nxt = o.inputs[0]
        elif name == "Elemwise":
            nxt = next((i for i in o.inputs if i.type.shape == v.type.shape), None)
        else:
            nxt = None
        if nxt is None:
            break
        v = nxt
    return v


def _same_shape(a: Variable, b: Variable, ctx: Rewriter) -> bool:
    """True when a and b provably have the same shape: the same source variable, or static
    lengths / the same symbolic length expression on every axis."""
    if a.ndim != b.ndim:
        return False
    return _shape_source(a) is _shape_source(b) or same_axis_lengths(a, b, ctx)


@rule("add_of_scatter", "add")
def add_of_scatter(node: Apply, ctx: Rewriter):
    """rest + inc_subtensor(zeros[idx], y) -> inc_subtensor(rest[idx], y) when `rest` (the other
    operands' sum) has exactly the sum's type and the zeros' shape."""
    out = node.outputs[0]
    merged = _merge_same_region(node)
    if merged is not None:
        return merged
    for k, term in enumerate(node.inputs):
        scatter = _scatter_into_zeros(term)
        if scatter is None or term.type != out.type:
            continue
        others = node.inputs[:k] + node.inputs[k + 1:]
        if len(others) == 1:
            rest = others[0]
        else:
            if elemwise_type("add", others) != out.type:
                continue
            rest = mk("add", *others)
        if rest.type != out.type or not _same_shape(rest, scatter.inputs[0], ctx):
            continue
        return scatter.op.make_node(rest, *scatter.inputs[1:]).outputs[0]
    return None


def _summed_increment(first: Apply, second: Apply, base: Variable) -> Variable | None:
    """inc_subtensor(base[idx], a + b) for two increments `first` (by a) and `second` (by b)
    of the same basic region; None when they differ or when summing first could round or wrap
    differently (only float values of the result's dtype are summed)."""
    if type(first.op).__name__ != "IncSubtensor" or first.op != second.op or first.op.set_instead_of_inc:
        return None
    if list(first.inputs[2:]) != list(second.inputs[2:]):
        return None
    a, b = first.inputs[1], second.inputs[1]
    dtype = first.outputs[0].dtype
    if dtype not in ("float32", "float64") or a.dtype != dtype or b.dtype != dtype:
        return None
    if elemwise_type("add", [a, b]) is None:
        return None
    return first.op.make_node(base, mk("add", a, b), *first.inputs[2:]).outputs[0]


def _merge_same_region(node: Apply) -> Variable | None:
    """In a sum, two scatters of the same region into the same zeros become one scatter of the
    summed values (so the chain built next has one increment per region)."""
    terms = node.inputs
    for i, ti in enumerate(terms):
        si = _scatter_into_zeros(ti)
        if si is None:
            continue
        for j in range(i + 1, len(terms)):
            sj = _scatter_into_zeros(terms[j])
            if sj is None or sj.inputs[0] is not si.inputs[0]:
                continue
            both = _summed_increment(si, sj, si.inputs[0])
            if both is None:
                continue
            rest = [t for k, t in enumerate(terms) if k not in (i, j)]
            if not rest:
                return both
            if elemwise_type("add", [both, *rest]) != node.outputs[0].type:
                return None
            return mk("add", both, *rest)
    return None


@rule("scatter_of_scatter", "IncSubtensor")
def scatter_of_scatter(node: Apply, ctx: Rewriter):
    """Two increments of the same basic region, one after the other, become one increment by
    the sum (float values of x's dtype only, so the rounding and overflow stay those of x)."""
    inner = owner_is(node.inputs[0], "IncSubtensor")
    if inner is None:
        return None
    return _summed_increment(inner, node, inner.inputs[0])


SCATTER_RULES = [add_of_scatter, scatter_of_scatter]
