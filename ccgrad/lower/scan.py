"""Scan lowered to a C `for` loop inside the same function: the inner graph is emitted inline in
the loop body (no Python, no per-step dispatch).

Storage: each carried state's outputs (n_run, *state) double as its history: tap k at step t
reads output row t + k, or, before the loop's start, row L + t + k of a contiguous copy of the
initial history.  Each step copies its new states and per-step outputs into their rows; the
per-step outputs are allocated after step 0, when their shape is known.  `until` stops the
loop after the step whose condition is true; the outputs then report n_run rows.
"""

from __future__ import annotations

from ccgrad import dtypes
from ccgrad.lower.loops import emit_copy
from ccgrad.lower.values import CVal, row_major_strides


def _row_view(val: CVal, row: str, base: str | None = None) -> CVal:
    """Row `row` of val (axis 0 removed), as a view."""
    ptr = val.ptr if row == "0" else f"({val.ptr} + ({row}) * {val.strides[0]})"
    return CVal(val.dtype, val.ndim - 1, ptr=ptr, shape=list(val.shape[1:]), strides=list(val.strides[1:]),
                contiguous=val.contiguous, base=base)


def emit_scan(ctx, node, ins: list[CVal]) -> list[CVal]:
    op = node.op
    name = f"scan {op.name!r}" if op.name else "scan"
    n_steps, rest = ins[0], ins[1:]
    seqs = rest[: op.n_seqs]
    hists = rest[op.n_seqs: op.n_seqs + op.n_carries]
    nons = rest[op.n_seqs + op.n_carries:]
    inner_in = op.fgraph.inputs
    n = ctx.name("nsteps")
    ctx.line(f"const int64_t {n} = (int64_t)({n_steps.value()});")
    ctx.check(f"{n} >= 0", 3, f"{name}: n_steps must be >= 0, got %lld", n)
    for i, s in enumerate(seqs):
        ctx.check(f"{s.shape[0]} >= {n}", 1,
                  f"{name}: sequence {i} has %lld rows, fewer than the %lld steps to run", s.shape[0], n)
        _check_row_shape(ctx, name, f"rows of sequence {i}", s.shape[1:], inner_in[i].type.shape)
    # Carried states: outputs double as history; the initial history is copied contiguous.
    carry_out: list[CVal] = []
    head: list[CVal] = []
    for c, h in enumerate(hists):
        L = op.history(c)
        ctx.check(f"{h.shape[0]} == {L}", 1, f"{name}: carried output {c} needs {L} initial rows, got %lld",
                  h.shape[0])
        first_tap = inner_in[op.tap_slots(c)[0]]
        _check_row_shape(ctx, name, f"state of carried output {c}", h.shape[1:], first_tap.type.shape)
        if op.keep_last[c]:
            # only the final state is used: a ring of L + 1 rows (time tau in row tau mod (L + 1));
            # step t writes the row of time t - L - 1, which no tap of step t reads
            ring = ctx.scratch(h.dtype, [str(L + 1)] + list(h.shape[1:]))
            hm = ctx.materialize(h)
            for r in range(L):
                emit_copy(ctx, _row_view(ring, f"ccg_mod_i64({r - L}, {L + 1})"), _row_view(hm, str(r)))
            head.append(ring)
            carry_out.append(None)
            continue
        hc = ctx.scratch(h.dtype, list(h.shape))
        emit_copy(ctx, hc, ctx.materialize(h))
        head.append(hc)
        carry_out.append(ctx.alloc(node, c, [n] + list(h.shape[1:])))
    for j, v in enumerate(nons):
        _check_row_shape(ctx, name, f"non-sequence {j}", v.shape, inner_in[op.n_seqs + op.n_taps + j].type.shape)
    # Per-step outputs: pointers filled in after step 0.
    nit_vars = node.outputs[op.n_carries: op.n_carries + op.n_nit]
    nit_ptr, nit_shape = [], []
    for v in nit_vars:
        p = ctx.name("nit")
        ctype = dtypes.c_type(v.dtype)
        ctx.declare(f"{ctype} *{p} = NULL;")
        dims = [ctx.name("nd") for _ in range(v.ndim - 1)]
        for d in dims:
            ctx.declare(f"int64_t {d} = 0;")
        nit_ptr.append(p)
        nit_shape.append(dims)
    ran = ctx.name("ran")
    ctx.line(f"int64_t {ran} = {n};")
    t = ctx.name("t")
    with ctx.loop(t, n):
        bound: list[CVal] = []
        for s in seqs:
            bound.append(_row_view(s, t))
        for c in range(op.n_carries):
            L = op.history(c)
            out_c, hc = carry_out[c], head[c]
            row = row_major_strides(list(hc.shape[1:]))
            rs = hc.strides[0]
            for k in op.carry_taps[c]:
                p = ctx.name("tap")
                ctype = hc.ctype
                if out_c is None:
                    ctx.line(f"{ctype} *{p} = {hc.ptr} + ccg_mod_i64({t} + ({k}), {L + 1}) * {rs};")
                else:
                    ctx.line(f"{ctype} *{p} = ({t} + ({k}) >= 0) ? {out_c.ptr} + ({t} + ({k})) * {rs} "
                             f": {hc.ptr} + ({L} + {t} + ({k})) * {rs};")
                bound.append(CVal(hc.dtype, hc.ndim - 1, ptr=p, shape=list(hc.shape[1:]), strides=row,
                                  contiguous=True))
        for v in nons:
            bound.append(CVal(v.dtype, v.ndim, ptr=v.ptr, shape=list(v.shape), strides=list(v.strides),
                              scalar=v.scalar, contiguous=v.contiguous, contig_flag=v.contig_flag))
        results = ctx.emit_inner(op.fgraph, bound)
        # new states -> their rows
        for c in range(op.n_carries):
            r = results[c]
            if carry_out[c] is None:
                dst = _row_view(head[c], f"ccg_mod_i64({t}, {op.history(c) + 1})")
            else:
                dst = _row_view(carry_out[c], t)
            for a, (d, e) in enumerate(zip(r.shape, dst.shape)):
                if d != e:
                    ctx.check(f"{d} == {e}", 1, f"{name}: carried output {c} changes shape on axis {a}: "
                              "%lld, its state has %lld", d, e)
            emit_copy(ctx, CVal(dst.dtype, dst.ndim, ptr=dst.ptr, shape=list(dst.shape), strides=dst.strides,
                                contiguous=True), r)
        # per-step outputs: allocate after step 0, then copy each step's value into its row
        for j, v in enumerate(nit_vars):
            r = results[op.n_carries + j]
            p, dims = nit_ptr[j], nit_shape[j]
            with ctx.if_(f"{t} == 0") as first:
                for d, e in zip(dims, r.shape):
                    ctx.line(f"{d} = {e};")
                _alloc_rows(ctx, node, op.n_carries + j, n, dims, p)
            with ctx.else_(first):
                for a, (d, e) in enumerate(zip(dims, r.shape)):
                    ctx.check(f"{d} == {e}", 1, f"{name}: per-step output {j} changes shape on axis {a}: %lld, "
                              "earlier steps gave %lld", e, d)
            dst = CVal(v.dtype, v.ndim - 1, ptr=f"({p} + {t} * ({' * '.join(dims) or '1'}))", shape=list(dims),
                       strides=row_major_strides(list(dims)), contiguous=True)
            emit_copy(ctx, dst, r)
        if op.as_while:
            cond = results[-1]
            with ctx.if_(f"{cond.value()}"):
                ctx.line(f"{ran} = {t} + 1;")
                ctx.line("break;")
        ctx.release_inner()
    outs: list[CVal] = []
    for c in range(op.n_carries):
        o = carry_out[c]
        if o is None:  # keep_last: the final state (the last initial row after 0 steps)
            ring = head[c]
            last = ctx.alloc(node, c, list(ring.shape[1:]))
            emit_copy(ctx, last, _row_view(ring, f"ccg_mod_i64({ran} - 1, {op.history(c) + 1})"))
            outs.append(last)
            continue
        outs.append(CVal(o.dtype, o.ndim, ptr=o.ptr, shape=[ran] + list(o.shape[1:]), strides=o.strides,
                         contiguous=True, base=o.base))
        _fix_out_rows(ctx, node, c, ran)
    for j, v in enumerate(nit_vars):
        p, dims = nit_ptr[j], nit_shape[j]
        static = v.type.shape[1:]
        with ctx.if_(f"{p} == NULL"):  # no step ran: unknown lengths are 0
            for d, s in zip(dims, static):
                ctx.line(f"{d} = {0 if s is None else s};")
            _alloc_rows(ctx, node, op.n_carries + j, n, dims, p)
        outs.append(_nit_value(ctx, node, op.n_carries + j, p, [ran] + dims))
    return outs


def _check_row_shape(ctx, name: str, what: str, shape: list[str], static) -> None:
    for a, (d, s) in enumerate(zip(shape, static)):
        if s is not None:
            ctx.check(f"{d} == {s}", 1, f"{name}: {what} must have length {s} on axis {a}, got %lld", d)


def _alloc_rows(ctx, node, index: int, n: str, dims: list[str], p: str) -> None:
    """Allocate the (n, *dims) buffer of a per-step output into pointer variable p.  It is
    allocated inside the loop (at step 0) and filled by every later step, so its slot must not be
    one the loop body's temporaries also use."""
    val = ctx.alloc(node, index, [n] + list(dims), fresh=True)
    ctx.line(f"{p} = {val.ptr};")


def _nit_value(ctx, node, index: int, p: str, shape: list[str]) -> CVal:
    var = node.outputs[index]
    _fix_out_rows(ctx, node, index, shape[0])
    return CVal(var.dtype, var.ndim, ptr=p, shape=shape, strides=row_major_strides(shape), contiguous=True,
                base=ctx.base_of_output(node, index))


def _fix_out_rows(ctx, node, index: int, ran: str) -> None:
    """A function output's first length is the number of steps run (until may stop early)."""
    j = ctx.output_position(node.outputs[index])
    if j is not None:
        ctx.line(f"outputs[{j}].shape[0] = {ran};")
