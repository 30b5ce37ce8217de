"""Loop nests for reductions (sum, prod, max, min, all, any), also used by fused
elementwise-then-reduce regions: the element expression is computed inside the reduction loop
so no intermediate array exists.

Loops follow the input's row-major order.  A full reduction over a contiguous loop space is one
flat loop with `#pragma omp simd reduction`, which gcc vectorizes under -fopenmp-simd (the
summation order then differs from numpy's pairwise sum; the tolerance policy covers it).
"""

from __future__ import annotations

from collections.abc import Callable

from ccgrad import dtypes
from ccgrad.lower.values import CVal

# element(idx) -> (statements, expression) for the element at index expressions idx
ElementFn = Callable[[list[str]], tuple[list[str], str]]

_IDENTITY = {"sum": 0, "prod": 1, "all": 1, "any": 0}
_OMP = {"sum": "+", "prod": "*"}


def acc_dtype(kind: str, out_dtype: str) -> str:
    """Accumulate float32 sums/products in double (more accurate than numpy, same result
    within float32 tolerance); everything else in the output dtype."""
    if kind in ("sum", "prod") and out_dtype == "float32":
        return "float64"
    return out_dtype


def combine(kind: str, acc: str, x: str, dt: str) -> str:
    sfx = {"float32": "f32", "float64": "f64", "int8": "i8", "int16": "i16", "int32": "i32",
           "int64": "i64", "uint8": "u8", "bool": "b"}[dt]
    if kind == "sum":
        return f"{acc} + {x}"
    if kind == "prod":
        return f"{acc} * {x}"
    if kind == "max":
        return f"ccg_max_{sfx}({acc}, {x})"
    if kind == "min":
        return f"ccg_min_{sfx}({acc}, {x})"
    if kind == "all":
        return f"(uint8_t)({acc} && ({x}))"
    if kind == "any":
        return f"(uint8_t)({acc} || ({x}))"
    raise ValueError(kind)


def emit_reduction(ctx, node, index: int, space: list[str], axes: tuple[int, ...], kind: str,
                   element: ElementFn, elem_dtype: str, flat_ok: str = "0",
                   flat_element: Callable[[str], tuple[list[str], str]] | None = None) -> CVal:
    """Reduce `element` over `axes` of the loop space `space` (axis lengths) into output
    `index` of `node`.

    flat_ok: a C condition under which the whole space can be walked as one flat contiguous
    loop, with `flat_element(i)` giving the element at flat position i (full reductions only).
    """
    out_var = node.outputs[index]
    out_dt = out_var.dtype
    adt = acc_dtype(kind, out_dt)
    act = dtypes.c_type(adt)
    kept = [a for a in range(len(space)) if a not in axes]
    if kind in ("max", "min"):
        n_red = " * ".join(space[a] for a in axes) or "1"
        ctx.check(f"({n_red}) > 0", 3, f"{kind}: cannot reduce over a zero-size axis")

    def cast_in(e: str) -> str:
        from ccgrad.ops.scalar import c_cast

        return c_cast(e, elem_dtype, adt)

    if not kept:
        acc = ctx.name("acc")
        ctx.declare(f"{act} {acc} = 0;")
        _init(ctx, acc, kind, adt, element, space)
        if flat_element is not None and flat_ok != "0":
            with ctx.if_(flat_ok) as branch:
                _flat_full(ctx, acc, kind, adt, space, flat_element, cast_in)
            with ctx.else_(branch):
                _nested(ctx, acc, None, kind, adt, space, axes, element, cast_in)
        else:
            _nested(ctx, acc, None, kind, adt, space, axes, element, cast_in)
        from ccgrad.ops.scalar import c_cast

        return CVal(out_dt, 0, scalar=f"({c_cast(acc, adt, out_dt)})" if adt != out_dt else acc,
                    contiguous=True)

    out_shape = [space[a] for a in kept]
    out = ctx.alloc(node, index, out_shape)
    # The output holds accumulators (in the accumulation dtype when it differs, via a slot).
    if adt != out_dt:
        tmp_node_out = _Scratch(adt, len(out_shape))
        work = ctx.alloc(tmp_node_out, 0, out_shape)
    else:
        work = out
    size = out.size()
    i = ctx.name("i")
    with ctx.loop(i, size):
        if kind in ("max", "min"):
            ctx.line(f"{work.ptr}[{i}] = 0;")
        else:
            ctx.line(f"{work.ptr}[{i}] = {dtypes.c_literal(_IDENTITY[kind], adt)};")
    first = kind in ("max", "min")  # max/min start from the first element along the axes
    _nested(ctx, None, (work, kept, first), kind, adt, space, axes, element, cast_in)
    if work is not out:
        from ccgrad.ops.scalar import c_cast

        with ctx.loop(i + "c", size):
            ctx.line(f"{out.ptr}[{i}c] = {c_cast(f'{work.ptr}[{i}c]', adt, out_dt)};")
    return out


class _Scratch:
    """Stand-in node for a scratch buffer that is not a graph value."""

    def __init__(self, dtype: str, ndim: int):
        from ccgrad.graph import TensorType, Variable

        self.outputs = (Variable(TensorType(dtype, shape=(None,) * ndim)),)
        self.inputs = ()


def _init(ctx, acc, kind, adt, element, space) -> None:
    if kind in ("max", "min"):
        stmts, e = element(["0"] * len(space))
        with ctx.block():
            for s in stmts:
                ctx.line(s)
            ctx.line(f"{acc} = {e};")
    else:
        ctx.line(f"{acc} = {dtypes.c_literal(_IDENTITY[kind], adt)};")


def _flat_full(ctx, acc, kind, adt, space, flat_element, cast_in) -> None:
    n = " * ".join(space) or "1"
    i = ctx.name("i")
    pragma = f"omp simd reduction({_OMP[kind]}:{acc})" if kind in _OMP and adt in dtypes.FLOATS else None
    if kind in _OMP and adt in dtypes.INTS:
        pragma = f"omp simd reduction({_OMP[kind]}:{acc})"
    with ctx.loop(i, n, pragma=pragma):
        stmts, e = flat_element(i)
        for s in stmts:
            ctx.line(s)
        ctx.line(f"{acc} = {combine(kind, acc, cast_in(e), adt)};")


def _nested(ctx, acc, into, kind, adt, space, axes, element, cast_in) -> None:
    """Row-major nested loops over the whole space.  `acc` (full reduction) or `into`
    = (work CVal, kept axes, first-flag name) for partial reductions."""
    idx = [ctx.name("j") for _ in space]
    managers = []
    for a, d in enumerate(space):
        last = a == len(space) - 1
        pragma = None
        if last and acc is not None and kind in _OMP:
            pragma = f"omp simd reduction({_OMP[kind]}:{acc})"
        cm = ctx.loop(idx[a], d, pragma=pragma)
        cm.__enter__()
        managers.append(cm)
    stmts, e = element(idx)
    for s in stmts:
        ctx.line(s)
    x = cast_in(e)
    if acc is not None:
        ctx.line(f"{acc} = {combine(kind, acc, x, adt)};")
    else:
        work, kept, first = into
        # offset of the output element: row-major over the kept axes
        off = "0"
        for a in kept:
            stride = " * ".join(space[b] for b in kept if b > a) or "1"
            term = idx[a] if stride == "1" else f"{idx[a]} * ({stride})"
            off = term if off == "0" else f"{off} + {term}"
        slot = f"{work.ptr}[{off}]"
        if first:
            red = [idx[a] for a in axes]
            is_first = " && ".join(f"{r} == 0" for r in red) or "1"
            ctx.line(f"{slot} = ({is_first}) ? {x} : {combine(kind, slot, x, adt)};")
        else:
            ctx.line(f"{slot} = {combine(kind, slot, x, adt)};")
    for cm in reversed(managers):
        cm.__exit__(None, None, None)
