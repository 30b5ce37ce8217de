"""Index specs: parsing a Python index into an op's spec (see ops/subtensor.py), and the
layout rule of x[spec] in each form it is needed: static shapes (type rules), symbolic shapes
(infer_shape), numpy indices with checks (perform), and the index arithmetic of generated C
(views, gathers and scatters with run-time bounds checks)."""

from __future__ import annotations

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Constant, Variable, as_variable, builder
from ccgrad.ops.symint import (
    fold,
    static_int,
    sym_add,
    sym_ceildiv,
    sym_eq,
    sym_lt,
    sym_max,
    sym_min,
    sym_sub,
    sym_switch,
)

FULL = (None, None, None)


# ---------------------------------------------------------------------------------------------
# Parsing a Python index into (spec, inputs)


def check_int_var(v: Variable, what: str) -> None:
    if v.dtype == "bool":
        raise NotImplementedError(
            f"{what}: boolean mask indexing is not supported; use T.switch (or an integer index)"
        )
    if v.dtype not in dtypes.INTS:
        raise TypeError(f"{what}: indices must be integers, got {v.type!r}")


def _scalar_part(p, inputs: list[Variable], what: str):
    """A slice field or scalar index as a spec field: None, a Python int or "i"."""
    if p is None:
        return None
    if isinstance(p, bool | np.bool_):
        raise NotImplementedError(f"{what}: boolean indices are not supported")
    if isinstance(p, int | np.integer):
        return int(p)
    v = as_variable(p)
    check_int_var(v, what)
    if v.ndim != 0:
        raise TypeError(f"{what}: slice bounds must be integer scalars, got {v.type!r}")
    c = static_int(v) if isinstance(v, Constant) else None
    if c is not None:
        return c
    inputs.append(v)
    return "i"


def _normalize_slice(start, stop, step):
    if step == 1:
        step = None
    if start == 0 and (step is None or (isinstance(step, int) and step > 0)):
        start = None
    return (start, stop, step)


def parse_index(x: Variable, index) -> tuple[Variable, tuple, list[Variable]]:
    """(x after inserting newaxis axes, spec, index inputs) for x[index]."""
    if not isinstance(index, tuple):
        index = (index,)
    if sum(it is Ellipsis for it in index) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(it is not Ellipsis and it is not None for it in index)
    if consumed > x.ndim:
        raise IndexError(f"too many indices for a {x.ndim}-d tensor {x.type!r}: {consumed} were given")
    items: list = []
    for it in index:
        if it is Ellipsis:
            items.extend([slice(None)] * (x.ndim - consumed))
        else:
            items.append(it)
    if any(it is None for it in items):
        # Insert the new axes first, then index them with a full slice (Theano's order).
        order: list = []
        k = 0
        for it in items:
            if it is None:
                order.append("x")
            else:
                order.append(k)
                k += 1
        order.extend(range(k, x.ndim))
        x = builder("dimshuffle")(x, tuple(order))
        items = [slice(None) if it is None else it for it in items]
    spec: list = []
    inputs: list[Variable] = []
    for axis, it in enumerate(items):
        what = f"index on axis {axis}"
        if isinstance(it, slice):
            parts = [_scalar_part(p, inputs, what) for p in (it.start, it.stop, it.step)]
            if parts[2] == 0:
                raise ValueError(f"{what}: slice step cannot be zero")
            spec.append(_normalize_slice(*parts))
        elif isinstance(it, int | np.integer | bool | np.bool_) or (
            isinstance(it, Variable) and it.ndim == 0
        ):
            spec.append(_scalar_part(it, inputs, what))
        else:
            v = as_variable(it)
            check_int_var(v, what)
            if v.ndim == 0:
                spec.append(_scalar_part(v, inputs, what))
            else:
                spec.append("a")
                inputs.append(v)
    while spec and spec[-1] == FULL:
        spec.pop()
    return x, tuple(spec), inputs


def spec_str(spec: tuple) -> str:
    def f(p):
        return "" if p is None else str(p)

    parts = []
    for e in spec:
        if isinstance(e, tuple):
            s = f"{f(e[0])}:{f(e[1])}"
            parts.append(s + (f":{f(e[2])}" if e[2] is not None else ""))
        else:
            parts.append(str(e))
    return ", ".join(parts)


def pp_index(spec: tuple, args: list[str]) -> str:
    """The index as Python source, with index inputs printed from args."""
    it = iter(args)

    def f(p):
        return "" if p is None else (next(it) if p in ("i", "a") else str(p))

    parts = []
    for e in spec:
        if isinstance(e, tuple):
            a, b = f(e[0]), f(e[1])
            s = f"{a}:{b}"
            if e[2] is not None:
                s += f":{f(e[2])}"
            parts.append(s)
        else:
            parts.append(f(e))
    return ", ".join(parts) if parts else ":"


def fill_spec(spec: tuple, values) -> tuple:
    """The spec with its "i"/"a" fields replaced by `values` in order (Variables or arrays):
    the numpy index (with arrays) or a getitem index (with Variables)."""
    it = iter(values)

    def f(p):
        return next(it) if p in ("i", "a") else p

    out = []
    for e in spec:
        out.append(slice(f(e[0]), f(e[1]), f(e[2])) if isinstance(e, tuple) else f(e))
    return tuple(out)


def _is_advanced(e) -> bool:
    return not isinstance(e, tuple)


def adv_location(spec: tuple) -> int:
    """Where numpy puts the broadcast index dims of an advanced index: after the slices that
    precede the advanced entries when those are contiguous, else in front."""
    pos = [i for i, e in enumerate(spec) if _is_advanced(e)]
    if pos and pos == list(range(pos[0], pos[-1] + 1)):
        return pos[0]
    return 0


# ---------------------------------------------------------------------------------------------
# Shapes of x[spec]: one layout rule (numpy's), used with static ints/None and with SymInts


def static_slice_len(n: int | None, sl: tuple) -> int | None:
    start, stop, step = sl
    if n is None or "i" in sl:
        return n if start is None and stop is None and step in (None, -1) else None
    return len(range(*slice(start, stop, step).indices(n)))


def _norm_bound(v, n, lo, hi, default):
    """Python's slice-bound normalization: default when None, +n when negative, clamp."""
    if v is None:
        return default
    v = sym_switch(sym_lt(v, 0), sym_add(v, n), v)
    return sym_max(lo, sym_min(v, hi))


def sym_slice_len(n, sl: tuple):
    """len(range(n)[start:stop:step]) as a SymInt; the fields of sl are None, ints or int
    scalars."""
    start, stop, step = sl
    step = 1 if step is None else fold(step)

    def forward(stp):
        s = _norm_bound(start, n, 0, n, 0)
        e = _norm_bound(stop, n, 0, n, n)
        return sym_max(0, sym_ceildiv(sym_sub(e, s), stp))

    def backward(stp):
        last = sym_sub(n, 1)
        s = _norm_bound(start, n, -1, last, last)
        e = _norm_bound(stop, n, -1, last, -1)
        return sym_max(0, sym_ceildiv(sym_sub(e, s), stp))  # never negates stp: -(-2**63) overflows

    if isinstance(step, int):
        return forward(step) if step > 0 else backward(step)
    return sym_switch(sym_lt(0, step), forward(step), backward(step))


def static_bcast(shapes: list) -> list:
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(nd):
        col = [s[len(s) - nd + k] for s in shapes if len(s) - nd + k >= 0]
        known = {d for d in col if d is not None and d != 1}
        if len(known) > 1:
            raise IndexError(
                "shape mismatch: indexing arrays could not be broadcast together with static "
                f"shapes {[tuple(s) for s in shapes]}"
            )
        out.append(known.pop() if known else (1 if all(d == 1 for d in col) else None))
    return out


def sym_bcast(shapes: list) -> list:
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(nd):
        col = [fold(s[len(s) - nd + k]) for s in shapes if len(s) - nd + k >= 0]
        fixed = [d for d in col if isinstance(d, int) and d != 1]
        if fixed:
            out.append(fixed[0])
            continue
        r = col[0]
        for d in col[1:]:
            r = sym_switch(sym_eq(r, 1), d, r)
        out.append(r)
    return out


def index_dims(spec: tuple, xdims, info, slice_len, bcast) -> list:
    """Output dims of x[spec] by numpy's rules.  `info` has one entry per index input: the
    scalar (for "i") or the dims of the array (for "a")."""
    advanced = "a" in spec
    it = iter(info)
    parts: list = []
    shapes: list = []
    adv = object()
    for axis, e in enumerate(spec):
        if isinstance(e, tuple):
            fields = tuple(next(it) if p == "i" else p for p in e)
            parts.append(slice_len(xdims[axis], fields))
            continue
        if e == "a":
            shapes.append(list(next(it)))
        else:
            if e == "i":
                next(it)
            if not advanced:
                continue
            shapes.append([])
        parts.append(adv)
    trailing = list(xdims[len(spec):])
    if not advanced:
        return parts + trailing
    b = bcast(shapes)
    rest = [p for p in parts if p is not adv]
    k = adv_location(spec)
    if k:
        return rest[:k] + b + rest[k:] + trailing
    return b + rest + trailing


def np_index(name: str, spec: tuple, shape: tuple, values) -> tuple:
    """The numpy index for run-time index values, with bounds checks naming the axis."""
    it = iter(values)
    out: list = []
    for axis, e in enumerate(spec):
        if isinstance(e, tuple):
            fields = [int(next(it)) if p == "i" else p for p in e]
            if fields[2] == 0:
                raise ValueError(f"{name}: slice step cannot be zero (axis {axis})")
            out.append(slice(*fields))
            continue
        n = shape[axis]
        if e == "a":
            a = np.asarray(next(it))
            if a.size:
                lo, hi = int(a.min()), int(a.max())
                if lo < -n or hi >= n:
                    raise IndexError(
                        f"{name}: index {lo if lo < -n else hi} is out of bounds for axis {axis} "
                        f"with length {n}"
                    )
            out.append(a)
            continue
        i = int(next(it)) if e == "i" else e
        if not -n <= i < n:
            raise IndexError(f"{name}: index {i} is out of bounds for axis {axis} with length {n}")
        out.append(i)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# x[spec] in generated C.  Every index is normalized and bounds-checked and every slice clamped
# before any memory is touched, so no index value can make the code read or write out of bounds.

_C_SLICE = """\
/* Python's slice clamping: the first index and the length of range(n)[start:stop:step]
 * (step != 0).  No intermediate overflows for any int64 inputs. */
static inline int64_t ccg_slice(int64_t n, int has_start, int64_t start, int has_stop, int64_t stop,
                                int64_t step, int64_t *first) {
    if (step > 0) {
        if (!has_start) start = 0;
        else if (start < 0) { start += n; if (start < 0) start = 0; }
        else if (start > n) start = n;
        if (!has_stop) stop = n;
        else if (stop < 0) { stop += n; if (stop < 0) stop = 0; }
        else if (stop > n) stop = n;
        *first = start;
        return stop > start ? (stop - start - 1) / step + 1 : 0;
    }
    if (!has_start) start = n - 1;
    else if (start < 0) { start += n; if (start < 0) start = -1; }
    else if (start >= n) start = n - 1;
    if (!has_stop) stop = -1;
    else if (stop < 0) { stop += n; if (stop < 0) stop = -1; }
    else if (stop >= n) stop = n - 1;
    *first = start;
    return start > stop ? (stop - start + 1) / step + 1 : 0;
}"""


def c_int64(ctx, v, prefix: str = "iv") -> str:
    """A C variable holding the 0-d integer CVal v as int64."""
    name = ctx.name(prefix)
    ctx.line(f"const int64_t {name} = (int64_t)({v.value()});")
    return name


def c_check_index(ctx, op: str, i: str, n: str, axis: int) -> str:
    """Index i normalized into [0, n) (negative counts from the end); IndexError otherwise."""
    j = ctx.name("ix")
    ctx.line(f"const int64_t {j} = ({i}) < 0 ? ({i}) + {n} : ({i});")
    ctx.check(f"{j} >= 0 && {j} < {n}", 2, f"{op}: index %lld is out of bounds for axis {axis} with length %lld",
              i, n, axis=axis, expected=n, got=i)
    return j


def c_static_dims(var: Variable, dims: list[str]) -> list[str]:
    """Axis-length expressions with the lengths the type knows replaced by literals."""
    return [str(s) if s is not None else d for s, d in zip(var.type.shape, dims)]


def c_walk(ctx, dims: list[str], body) -> None:
    """Nested row-major loops over `dims`; body(loop variables) emits the innermost statements."""
    idx = [ctx.name("w") for _ in dims]
    stack = []
    for v, d in zip(idx, dims):
        cm = ctx.loop(v, d)
        cm.__enter__()
        stack.append(cm)
    body(idx)
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def c_update(dst: str, src: str, mode: str, dtype: str) -> str:
    """The C statement dst = src ("set") or dst += src ("add"; logical or for bool)."""
    if mode == "set":
        return f"{dst} = {src};"
    if dtype == "bool":
        return f"{dst} = (uint8_t)({dst} || ({src}));"
    return f"{dst} = ({dtypes.c_type(dtype)})({dst} + ({src}));"


def c_check_fill(ctx, op: str, src, src_static: tuple, dims: list[str], what: str) -> list:
    """Check that src (static shape src_static) fills a region of lengths `dims` under
    Theano's rule: axes aligned right, only static length 1 broadcasts.  Returns, per src axis,
    the region axis it follows (None for a broadcast axis)."""
    off = len(dims) - src.ndim
    follow = []
    for k in range(src.ndim):
        if src_static[k] == 1:
            follow.append(None)
            continue
        d, r = src.shape[k], dims[off + k]
        if d != r:
            ctx.check(f"{d} == {r}", 1, f"{op}: {what} has length %lld on axis {k} but the region it fills has "
                      f"length %lld on axis {off + k}; only axes of static length 1 broadcast", d, r,
                      axis=k, expected=r, got=d)
        follow.append(off + k)
    return follow


def c_assign(ctx, dst, src, src_static: tuple, mode: str = "set", op: str = "", what: str = "value") -> None:
    """dst (any strides) = / += src broadcast by Theano's rule (checked at run time)."""
    follow = c_check_fill(ctx, op, src, src_static, list(dst.shape), what)
    if src.scalar is not None or all(f is None for f in follow):
        c = ctx.name("c")
        ctx.line(f"const {dtypes.c_type(src.dtype)} {c} = {src.at(['0'] * src.ndim)};")
        if dst.contiguous and mode == "set":
            i = ctx.name("i")
            with ctx.loop(i, dst.size()):
                ctx.line(f"{dst.ptr}[{i}] = {c};")
            return
        c_walk(ctx, list(dst.shape), lambda w: ctx.line(c_update(dst.at(w), c, mode, dst.dtype)))
        return

    def body(w):
        ctx.line(c_update(dst.at(w), src.at([w[f] if f is not None else "0" for f in follow]), mode, dst.dtype))

    c_walk(ctx, list(dst.shape), body)


class CIndex:
    """x[spec] for one x shape at run time: entries normalized and checked, the result's
    lengths, and element offsets into x (or into any array of x's shape, given its strides).

    Index arrays are normalized once into int64 scratch copies (bounds checked); numpy's
    broadcasting of the index arrays is checked; the result's axes follow `index_dims`."""

    def __init__(self, ctx, op: str, spec: tuple, shape: list[str], idx: list, idx_static: list[tuple]):
        self.ctx, self.spec = ctx, spec
        self.entries: list[tuple] = []  # per spec axis: ("int", j) | ("slice", first, len, step) | ("adv", k)
        self.arrays: list = []  # normalized index arrays (CVals of int64)
        vals = iter(zip(idx, idx_static))
        for axis, e in enumerate(spec):
            n = shape[axis]
            if isinstance(e, tuple):
                fields = [c_int64(ctx, next(vals)[0]) if p == "i" else p for p in e]
                self.entries.append(("slice",) + self._slice(op, n, fields, axis))
            elif e == "a":
                a, st = next(vals)
                self.entries.append(("adv", len(self.arrays)))
                self.arrays.append(self._normalize(op, a, st, n, axis))
            else:
                i = c_int64(ctx, next(vals)[0]) if e == "i" else str(e)
                self.entries.append(("int", c_check_index(ctx, op, i, n, axis)))
        self.bdims = self._broadcast(op)
        kinds = index_dims(spec, [("t", a) for a in range(len(shape))],
                           [None if e == "i" else a.shape for e, a in zip(_inputs_kinds(spec), self._array_iter())],
                           lambda n, f: ("s", n[1]), lambda shapes: [("b", q) for q in range(len(self.bdims))])
        self.kinds: list[tuple] = kinds
        self.dims = [self.bdims[k[1]] if k[0] == "b" else
                     (self.entries[k[1]][2] if k[0] == "s" else shape[k[1]]) for k in kinds]

    def _array_iter(self):
        it = iter(self.arrays)
        for e in _inputs_kinds(self.spec):
            yield next(it) if e == "a" else None

    def _slice(self, op, n, fields, axis) -> tuple[str, str, str]:
        ctx = self.ctx
        start, stop, step = fields
        if start is None and stop is None and step is None:
            return "0", n, "1"
        step = "1" if step is None else str(step)
        if not step.lstrip("-").isdigit():
            ctx.check(f"{step} != 0", 3, f"{op}: slice step cannot be zero (axis {axis})", axis=axis)
        ctx.define("ccg_slice", _C_SLICE)
        first, length = ctx.name("first"), ctx.name("len")
        ctx.line(f"int64_t {first} = 0;")
        ctx.line(f"const int64_t {length} = ccg_slice({n}, {int(start is not None)}, {0 if start is None else start}, "
                 f"{int(stop is not None)}, {0 if stop is None else stop}, {step}, &{first});")
        return first, length, step

    def _normalize(self, op, a, static, n, axis):
        """An int64 C-contiguous copy of index array a with negative entries wrapped; IndexError
        for any entry outside [-n, n)."""
        from ccgrad.lower.loops import emit_elementwise

        ctx = self.ctx
        shape = ["1" if s == 1 else d for s, d in zip(static, a.shape)]
        out = ctx.scratch("int64", shape)
        msg = f"{op}: index %lld is out of bounds for axis {axis} with length %lld"

        def body(e):
            v, t = ctx.name("v"), ctx.name("t")
            return ([f"const int64_t {v} = (int64_t)({e[0]});",
                     f"const int64_t {t} = {v} < 0 ? {v} + {n} : {v};",
                     f"if (CCG_UNLIKELY({t} < 0 || {t} >= {n})) {{ ccg_fail(err, 2, -1, {axis}, {n}, {v}, "
                     f"\"{msg}\", (long long){v}, (long long)({n})); goto fail; }}"], [t])

        if a.ndim == 0:
            stmts, exprs = body([a.value()])
            for s in stmts:
                ctx.line(s)
            ctx.line(f"{out.ptr}[0] = {exprs[0]};")
        else:
            emit_elementwise(ctx, [out], [a], [tuple(static)], body)
        return out

    def _broadcast(self, op) -> list[str]:
        """Lengths of the broadcast index dims (numpy's rule, checked: IndexError)."""
        ctx = self.ctx
        nb = max((a.ndim for a in self.arrays), default=0)
        dims = []
        for q in range(nb):
            col = [a.shape[a.ndim - nb + q] for a in self.arrays if a.ndim - nb + q >= 0]
            fixed = [d for d in col if d != "1"]
            if len(set(fixed)) <= 1:
                dims.append(fixed[0] if fixed else "1")
                continue
            b = ctx.name("bd")
            ctx.line(f"int64_t {b} = 1;")
            for d in fixed:
                ctx.check(f"{d} == 1 || {b} == 1 || {b} == {d}", 2,
                          f"{op}: shape mismatch: indexing arrays could not be broadcast together (lengths "
                          f"%lld and %lld on broadcast axis {q})", b, d)
                ctx.line(f"if ({d} != 1) {b} = {d};")
            dims.append(b)
        return dims

    def base_offset(self, strides: list[str]) -> str:
        """Offset of the result's first element (the int entries and the slices' starts)."""
        terms = []
        for e, s in zip(self.entries, strides):
            if s == "0":
                continue
            if e[0] == "int":
                terms.append(f"{e[1]} * {s}")
            elif e[0] == "slice" and e[1] != "0":
                terms.append(f"({e[2]} > 0 ? {e[1]} * {s} : 0)")
        return " + ".join(terms) or "0"

    def view_strides(self, strides: list[str]) -> list[str]:
        """Strides of the result as a view (basic indexing only)."""
        out = []
        for kind, axis in self.kinds:
            e = self.entries[axis] if axis < len(self.entries) else None
            s = strides[axis]
            if kind == "s" and e[3] != "1":
                s = f"({e[2]} > 1 ? {e[3]} * {s} : {s})"
            out.append(s)
        return out

    def walk(self, strides: list[str], body) -> None:
        """Loops over the result in row-major order; body(w, off) emits the statements for one
        element, given the loop variables and a C variable holding the element's offset under
        `strides` (x's, or those of an array of x's shape).  Offsets accumulate loop by loop,
        so each index-array entry is read once per position of the broadcast index dims."""
        ctx = self.ctx
        at: list[list[str]] = [[] for _ in self.kinds]  # terms added inside each loop
        bpos = [i for i, k in enumerate(self.kinds) if k[0] == "b"]
        w = [ctx.name("w") for _ in self.kinds]
        for i, (kind, axis) in enumerate(self.kinds):
            s = strides[axis] if kind != "b" else "0"
            if s == "0":
                continue
            step = self.entries[axis][3] if kind == "s" else "1"
            v = w[i] if step == "1" else f"({w[i]} * {step})"
            at[i].append(v if s == "1" else f"{v} * {s}")
        for axis, e in enumerate(self.entries):
            if e[0] != "adv" or strides[axis] == "0":
                continue
            a = self.arrays[e[1]]
            pos = []
            for q in range(a.ndim):
                d, rs = a.shape[q], a.strides[q]
                v = w[bpos[len(bpos) - a.ndim + q]]
                if d != "1":
                    pos.append(f"({d} == 1 ? 0 : {v} * {rs})" if rs != "1" else f"({d} == 1 ? 0 : {v})")
            at[bpos[-1]].append(f"{a.ptr}[{' + '.join(pos) or '0'}] * {strides[axis]}")
        off = ctx.name("o")
        ctx.line(f"const int64_t {off} = {self.base_offset(strides)};")
        stack = []
        for i, d in enumerate(self.dims):
            last = i == len(self.dims) - 1
            s = strides[self.kinds[i][1]]
            if last and self.kinds[i][0] == "t" and not s.isdigit():
                # a unit-stride version of the innermost loop, which gcc vectorizes
                with ctx.if_(f"{s} == 1") as branch:
                    with ctx.loop(w[i], d):
                        body(w, self._step(off, [f"{w[i]}"]))
                with ctx.else_(branch), ctx.loop(w[i], d):
                    body(w, self._step(off, at[i]))
                break
            cm = ctx.loop(w[i], d)
            cm.__enter__()
            stack.append(cm)
            off = self._step(off, at[i])
        else:
            body(w, off)
        for cm in reversed(stack):
            cm.__exit__(None, None, None)

    def _step(self, off: str, terms: list[str]) -> str:
        if not terms:
            return off
        nxt = self.ctx.name("o")
        self.ctx.line(f"const int64_t {nxt} = {off} + {' + '.join(terms)};")
        return nxt


def _inputs_kinds(spec: tuple):
    """The kind ("i" or "a") of each index input, in order."""
    for e in spec:
        if isinstance(e, tuple):
            yield from (p for p in e if p == "i")
        elif e in ("i", "a"):
            yield e
