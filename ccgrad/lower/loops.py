"""Loop nests for elementwise work: one nest per Elemwise/Fused node, with a flat contiguous
fast path gcc vectorizes (restrict pointers, unit stride) and a strided general path that
also covers broadcasting (zero strides) and negative strides.  Also strided copies.

Where a float64 body calls ccgrad's own vector math (exp, tanh, sigmoid), the flat path first
runs an explicit 8-lane loop with that math inlined (see `lanes8_body`)."""

from __future__ import annotations

from collections.abc import Callable

from ccgrad import dtypes
from ccgrad.lower.values import CVal

# A body builder gets one C expression per input element and returns (statements, one
# expression per output).
BodyFn = Callable[[list[str]], tuple[list[str], list[str]]]


def broadcast_shape(ctx, op_name: str, ins: list[CVal], patterns: list[tuple[int | None, ...]],
                    ndim: int) -> list[str]:
    """Output axis lengths of an elementwise op; emits run-time checks where inputs disagree.

    patterns: each input's static shape (1 marks a broadcastable axis).
    """
    shape = []
    for a in range(ndim):
        exprs = [(i, v.shape[a]) for i, (v, p) in enumerate(zip(ins, patterns)) if p[a] != 1]
        if not exprs:
            shape.append("1")
            continue
        first_i, first = exprs[0]
        for i, e in exprs[1:]:
            if e != first:
                where_a = ctx.dim_name(first) or f"input {first_i}"
                where_b = ctx.dim_name(e) or f"input {i}"
                ctx.check(f"{e} == {first}", 1,
                          f"{op_name}: shape mismatch on axis {a}: {where_a} has length %lld but "
                          f"{where_b} has length %lld", first, e, axis=a, expected=first, got=e)
        shape.append(first)
    return shape


def emit_elementwise(ctx, outs: list[CVal], ins: list[CVal], patterns: list[tuple[int | None, ...]],
                     body: BodyFn, shape: list[str] | None = None, body8: BodyFn | None = None) -> None:
    """Fill the C-contiguous `outs` (all of one shape) from `ins` through `body`.  With no
    outputs, `shape` gives the loop space (the body then works by side effect).  `body8`, when
    given, is the same body on 8 float64 lanes (lanes8_body) for the contiguous fast path."""
    out0 = outs[0] if outs else CVal("int64", len(shape), ptr="0", shape=list(shape))
    ndim = out0.ndim
    ins = [broadcast_view(v, p) for v, p in zip(ins, patterns)]
    if ndim == 0:
        _emit_body(ctx, body, [v.value() for v in ins],
                   [o.scalar if o.scalar is not None else f"{o.ptr}[0]" for o in outs])
        return
    with ctx.block():
        # Inputs that are one value broadcast everywhere are read once, before the loop.
        loads: list[str | None] = [None] * len(ins)
        full, partial = [], []
        out_one = [all(p[a] == 1 for p in patterns) for a in range(ndim)]
        for i, (v, p) in enumerate(zip(ins, patterns)):
            if v.scalar is not None or all(s == 1 for s in p):
                h = ctx.name("c")
                ctx.line(f"const {v.ctype} {h} = {v.at(['0'] * v.ndim)};")
                loads[i] = h
            elif any(p[a] == 1 and not out_one[a] for a in range(ndim)):
                partial.append(i)
            else:
                full.append(i)
        n = ctx.name("n")
        ctx.line(f"const int64_t {n} = {out0.size()};")
        cond = " && ".join(ins[i].runtime_contiguous() for i in full if ins[i].runtime_contiguous() != "1")
        # an empty result does nothing (its outer axes may still be huge: (2**40, 0))
        with ctx.if_(f"{n} > 0"):
            if partial:
                _strided(ctx, outs, ins, loads, body, ndim, out0.shape)
            elif not cond:
                _flat(ctx, outs, ins, loads, full, body, n, body8)
            else:
                with ctx.if_(cond) as branch:
                    _flat(ctx, outs, ins, loads, full, body, n, body8)
                with ctx.else_(branch):
                    _strided(ctx, outs, ins, loads, body, ndim, out0.shape)


def broadcast_view(v: CVal, pattern) -> CVal:
    """`v` read with stride 0 along its broadcastable axes (static length 1): whatever stride
    the memory has there, every output index along such an axis reads element 0."""
    if v.ndim == 0 or not any(p == 1 for p in pattern) or v.scalar is not None:
        return v
    strides = ["0" if p == 1 else s for p, s in zip(pattern, v.strides)]
    shape = ["1" if p == 1 else d for p, d in zip(pattern, v.shape)]
    return CVal(v.dtype, v.ndim, ptr=v.ptr, shape=shape, strides=strides, scalar=v.scalar,
                contiguous=v.contiguous and strides == v.strides, contig_flag=v.contig_flag if strides == v.strides
                else None, base=v.base)


def _emit_body(ctx, body: BodyFn, elems: list[str], targets: list[str], store: str = "{} = {};") -> None:
    """The statements of `body` on `elems`, then each output expression stored into its target
    through `store` (a format of target and expression)."""
    stmts, exprs = body(elems)
    for s in stmts:
        ctx.line(s)
    for t, e in zip(targets, exprs):
        ctx.line(store.format(t, e))


def _flat(ctx, outs, ins, loads, full, body, n, body8=None) -> None:
    """One flat loop over contiguous operands: the vectorizable fast path.  With `body8`, the
    8-lane loop of `_lanes8_loop` where ccgrad's vector math is compiled in, the plain loop
    elsewhere."""
    ptrs = {}
    out_bases = {o.base for o in outs}
    for i in full:
        v = ins[i]
        p = ctx.name("p")
        # restrict only where no output shares the buffer (in-place writes alias their input)
        qual = "" if v.base in out_bases else "restrict "
        ctx.line(f"const {v.ctype} *{qual}{p} = {v.ptr};")
        ptrs[i] = p
    optrs = []
    for o in outs:
        p = ctx.name("q")
        aliased = any(ins[i].base == o.base for i in full)
        qual = "" if aliased else "restrict "
        ctx.line(f"{o.ctype} *{qual}{p} = {o.ptr};")
        optrs.append(p)
    lanes8 = body8 is not None and all(ins[i].dtype == "float64" for i in full)
    if lanes8:
        ctx.line("#ifdef CCG_OWN_VMATH")
        _lanes8_loop(ctx, loads, ptrs, optrs, n, body8)
        ctx.line("#else")
    idx = ctx.name("i")
    if any(ins[i].base in out_bases for i in full):
        # An output written over an input (in place, or a donated buffer) is the same element at
        # the same index: each iteration reads its element before writing it and touches no
        # other, so iterations are independent.  Without restrict gcc cannot see that and runs
        # the loop unvectorized whenever the pointers overlap, which in place they always do.
        ctx.line("#pragma GCC ivdep")
    with ctx.loop(idx, n):
        elems = [loads[i] if loads[i] is not None else f"{ptrs[i]}[{idx}]" for i in range(len(ins))]
        _emit_body(ctx, body, elems, [f"{p}[{idx}]" for p in optrs])
    if lanes8:
        ctx.line("#endif")


def _lanes8_loop(ctx, loads, ptrs, optrs, n, body8) -> None:
    """All n elements on 8 lanes, the last n % 8 through masked loads and stores: one
    evaluation instead of one scalar call per element, each costing a whole vector's; one
    body, so the inlined math is compiled once."""
    j = ctx.name("j")
    with ctx.loop(j, n, step="8"):
        left = ctx.name("k")
        ctx.line(f"const int64_t {left} = {n} - {j};")
        elems = [f"CCG_V8((double){loads[i]})" if loads[i] is not None
                 else f"ccg_load_v8({ptrs[i]} + {j}, {left})" for i in range(len(loads))]
        _emit_body(ctx, body8, elems, [f"{p} + {j}" for p in optrs], "ccg_store_v8({}, {}, " + left + ");")


def _strided(ctx, outs, ins, loads, body, ndim, shape_of) -> None:
    """Nested loops with per-operand strides (broadcast axes have stride 0)."""
    k = ctx.name("k")
    ctx.line(f"int64_t {k} = 0;")
    idx = [ctx.name("i") for _ in range(ndim)]
    shape = shape_of
    stack = []
    for a in range(ndim):
        cm = ctx.loop(idx[a], shape[a])
        cm.__enter__()
        stack.append(cm)
    elems = [loads[i] if loads[i] is not None else ins[i].at(idx) for i in range(len(ins))]
    _emit_body(ctx, body, elems, [f"{o.ptr}[{k}]" for o in outs])
    ctx.line(f"{k}++;")
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def emit_copy(ctx, dst: CVal, src: CVal) -> None:
    """dst (C-contiguous) = src (any layout, same shape and dtype)."""
    pattern = tuple(None for _ in range(src.ndim))
    emit_elementwise(ctx, [dst], [src], [pattern], lambda e: ([], [e[0]]))


def emit_elemwise_node(ctx, node, ins: list[CVal]) -> list[CVal]:
    """C for an Elemwise node: its scalar op's C expression in a loop nest."""
    sop = node.op.scalar_op
    out_var = node.outputs[0]
    in_dtypes = [v.dtype for v in node.inputs]
    patterns = [v.type.shape for v in node.inputs]
    if out_var.ndim == 0:
        expr = sop.c([v.value() for v in ins], in_dtypes, out_var.dtype)
        return [ctx.scalar(node, 0, init=expr)]
    shape = broadcast_shape(ctx, f"Elemwise{{{sop}}}", ins, patterns, out_var.ndim)
    reuse = [(v, val) for v, val, p in zip(node.inputs, ins, patterns)
             if all(s != 1 or o == 1 for s, o in zip(p, out_var.type.shape)) and val.scalar is None]
    out = ctx.alloc(node, 0, shape, reuse=reuse)

    def body(elems: list[str]):
        return [], [sop.c(elems, in_dtypes, out_var.dtype)]

    step = (sop, tuple(("in", k) for k in range(len(ins))), out_var.dtype)
    emit_elementwise(ctx, [out], ins, patterns, body, body8=lanes8_body(ctx, [step]))
    return [out]


def c_zero(dtype: str) -> str:
    return dtypes.c_literal(0, dtype)


def _program(ctx, steps, elems: list[str], ctype, literal, step_c) -> tuple[list[str], list[str]]:
    """Statements evaluating a program of `steps` (a Fused node's, or one Elemwise step) on
    `elems`: one `const` temporary per step, so values used twice (e.g. a sigmoid) are computed
    once.  ctype(dtype) types the temporaries, literal(dtype, value) writes a constant and
    step_c(sop, exprs, args, out_dtype) a step's expression."""
    stmts, vals = [], []
    for sop, args, out_dt in steps:
        exprs = [elems[a[1]] if a[0] == "in" else vals[a[1]] if a[0] == "step" else literal(a[1], a[2])
                 for a in args]
        t = ctx.name("t")
        stmts.append(f"const {ctype(out_dt)} {t} = {step_c(sop, exprs, args, out_dt)};")
        vals.append(t)
    return stmts, [vals[-1]]


def fused_body(ctx, op, node, in_dtypes: list[str]) -> BodyFn:
    """A body builder evaluating a Fused program on one element."""

    def arg_dtype(a) -> str:
        return in_dtypes[a[1]] if a[0] == "in" else op.steps[a[1]][2] if a[0] == "step" else a[1]

    def step_c(sop, exprs, args, out_dt):
        return sop.c(exprs, [arg_dtype(a) for a in args], out_dt)

    return lambda elems: _program(ctx, op.steps, elems, dtypes.c_type,
                                  lambda dt, v: dtypes.c_literal(v, dt), step_c)


def lanes8_body(ctx, steps) -> BodyFn | None:
    """The body of a program of `steps` (a Fused node's, or one Elemwise step) on 8 float64
    lanes, or None when it has none or gains nothing from one.

    gcc vectorizes the plain loop by itself, but it can reach ccgrad's exp/tanh only through a
    call per 8 elements (the vector ABI), which costs ~15% of a logistic gradient: so the
    8-lane loop is for bodies that call that math, every step in float64 with a c8 form.  The
    body takes its inputs as float64 vectors (the caller converts, as the steps' C casts would:
    a broadcast int8 constant is splat as a double).
    Each lane gets the bits the plain and strided loops would give (the same operations; the
    default flags' -std=c99 contracts nothing into fma), so a value does not depend on its
    array's layout or on where it falls among the 8 lanes.
    In place (an output over its input) is safe: each iteration loads its 8 elements before
    storing them."""
    if any(sop.c8 is None or out != "float64" for sop, _, out in steps):
        return None
    if not any(sop.c8(["x"] * len(args)).startswith("ccg_") for sop, args, _ in steps):
        return None
    return lambda elems: _program(ctx, steps, elems, lambda dt: "ccg_v8d",
                                  lambda dt, v: f"CCG_V8((double){dtypes.c_literal(v, dt)})",
                                  lambda sop, exprs, args, out_dt: sop.c8(exprs))


def emit_fused_node(ctx, node, ins: list[CVal]) -> list[CVal]:
    """C for a Fused node: one loop nest evaluating the whole program per element, ending in a
    reduction when the region has one."""
    op = node.op
    in_dtypes = [v.dtype for v in node.inputs]
    patterns = [v.type.shape for v in node.inputs]
    ndim = node.inputs[0].ndim
    body = fused_body(ctx, op, node, in_dtypes)
    out_var = node.outputs[0]
    if op.reduce is None:
        if ndim == 0:
            stmts, exprs = body([v.value() for v in ins])
            for s in stmts:
                ctx.line(s)
            return [ctx.scalar(node, 0, init=exprs[0])]
        shape = broadcast_shape(ctx, str(op), ins, patterns, ndim)
        reuse = [(v, val) for v, val, p in zip(node.inputs, ins, patterns)
                 if all(s != 1 or o == 1 for s, o in zip(p, out_var.type.shape)) and val.scalar is None]
        out = ctx.alloc(node, 0, shape, reuse=reuse)
        emit_elementwise(ctx, [out], ins, patterns, body, body8=lanes8_body(ctx, op.steps))
        return [out]
    from ccgrad.lower.reductions import emit_reduction

    kind, axes = op.reduce
    space = broadcast_shape(ctx, str(op), ins, patterns, ndim) if ndim else []
    ins = [broadcast_view(v, p) for v, p in zip(ins, patterns)]
    # Hoist broadcast-everywhere inputs; decide whether a flat contiguous walk is possible.
    loads: list[str | None] = [None] * len(ins)
    full, partial = [], []
    out_one = [all(p[a] == 1 for p in patterns) for a in range(ndim)]
    for i, (v, p) in enumerate(zip(ins, patterns)):
        if v.scalar is not None or all(s == 1 for s in p):
            h = ctx.name("c")
            ctx.line(f"const {v.ctype} {h} = {v.at(['0'] * v.ndim)};")
            loads[i] = h
        elif any(p[a] == 1 and not out_one[a] for a in range(ndim)):
            partial.append(i)
        else:
            full.append(i)

    def element(idx):
        elems = [loads[i] if loads[i] is not None else ins[i].at(idx) for i in range(len(ins))]
        stmts, exprs = body(elems)
        return stmts, exprs[0]

    flat_ok, flat = "0", None
    if not partial and len(axes) == ndim and ndim > 0:
        flat_ok = " && ".join(ins[i].runtime_contiguous() for i in full) or "1"

        def flat(i):
            elems = [loads[k] if loads[k] is not None else f"{ins[k].ptr}[{i}]" for k in range(len(ins))]
            stmts, exprs = body(elems)
            return stmts, exprs[0]

    return [emit_reduction(ctx, node, 0, space, tuple(axes), kind, element, op.value_dtype, flat_ok, flat)]


def emit_lanes(ctx, shape: list[str], axis: int, body) -> None:
    """Loop over every index of `shape` except `axis`; body(idx) emits code for one lane, with
    idx[axis] == "0" (the lane's start) and the other entries the loop variables."""
    idx = [ctx.name("l") for _ in shape]
    managers = []
    for a, d in enumerate(shape):
        if a == axis:
            continue
        cm = ctx.loop(idx[a], d)
        cm.__enter__()
        managers.append(cm)
    idx[axis] = "0"
    body(idx)
    for cm in reversed(managers):
        cm.__exit__(None, None, None)
