"""The emission context: turns a scheduled graph into the body of `ccg_run`.

It owns naming (deterministic, from topological position), input unpacking and checks, the
memory plan (slots reused when their values die, in place when an elementwise output can take a
dying input's buffer), errors (`ctx.check`) and output hand-off.  Ops emit their own statements
through it; elementwise loop nests come from loops.py, reductions from reductions.py.

How an op emits C (`Op.c_code(self, ctx, node, ins) -> list[CVal]`, next to its other facts):

- `ins[i]` is a CVal (values.py) for node.inputs[i]: `ptr` (a `T *` C expression, or None for a
  register scalar), `shape`/`strides` (C expressions; strides count elements and may be
  negative or 0 for broadcast axes), `scalar` (0-d values and broadcast scalars), `at(idx)`
  (element expression), `value()` (0-d), `runtime_contiguous()`.  Inputs can have any layout.
  Use `ctx.materialize(v)` when a pointer is needed, `ctx.cast(v, dtype)` for a converted copy.
- Results: `ctx.alloc(node, i, shape_exprs, reuse=[...])` gives a fresh C-contiguous CVal for
  output i (written straight into the caller's buffer when it is a function output);
  `ctx.scalar(node, i, init)` a register for a 0-d output; or return a *view*: a new CVal over
  an input's memory with `base=` the input's base (no copy; the memory plan keeps it alive).
  Never write into an input's memory.
- Statements: `ctx.line(text)`, `with ctx.loop(var, stop):`, `with ctx.if_(cond) as s:` /
  `with ctx.else_(s):`, `with ctx.block():`, `ctx.name(prefix)` for fresh identifiers,
  `ctx.scratch(dtype, shape)` for work buffers, `ctx.define(key, text)` for top-level helpers.
- Checks: `ctx.check(cond, code, printf_format, *int64_args, arg=, axis=, expected=, got=)`;
  codes 1 shape (ValueError), 2 index (IndexError), 3 value (ValueError), 4 memory, 5 internal.
  Write `{in:K}` in a message to name function input K (ctx.dim_name(shape_expr) describes
  where a length comes from).  Every check the generated code relies on must be emitted: no
  out-of-bounds access for any input, whatever its values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, FunctionGraph, Variable
from ccgrad.lower.cnodes import Block, Comment, For, If, Line, Stmt
from ccgrad.lower.values import CVal, contiguity_condition, row_major_strides

# Constants with more elements than this become hidden inputs instead of C array literals, so
# the source (and its compile time) stays small and the kernel does not depend on their values.
INLINE_CONSTANT_LIMIT = 64

ERR_SHAPE, ERR_INDEX, ERR_VALUE, ERR_MEMORY, ERR_INTERNAL = 1, 2, 3, 4, 5


class LoweringError(NotImplementedError):
    """The graph contains something the C backend cannot emit."""


class Emitter:
    """Builds the statements of one generated function from a FunctionGraph."""

    def __init__(self, fgraph: FunctionGraph, donate: dict[int, int] | None = None):
        self.fgraph = fgraph
        # output j -> input k: the caller may offer input k's buffer for output j (in-place
        # updates of shared variables); used only once nothing reads input k any more.
        self.donate = dict(donate or {})
        self.order: list[Apply] = fgraph.toposort()
        self.decls = Block()  # declarations at the top of ccg_run
        self.body = Block()
        self._stack: list[Block] = [self.body]
        self._counter: dict[str, int] = {}
        self.vals: dict[int, CVal] = {}
        self.slots: list[str] = []
        self._free: list[str] = []
        self._refs: dict[str, int] = {}
        self._extra_defs: dict[str, str] = {}  # top-level C definitions, by key (deterministic)
        self.features: set[str] = set()  # what the build must provide, e.g. "blas"
        self.hidden: list[np.ndarray] = []  # large constants passed as extra inputs
        self._hidden_index: dict[int, int] = {}
        self.n_inputs = len(fgraph.inputs)
        self.shape_origin: dict[str, tuple[int, int]] = {}
        self._direct: dict[int, int] = {}  # id(var) -> output index allocated in place
        self._out_pos: dict[int, list[int]] = {}
        for j, v in enumerate(fgraph.outputs):
            self._out_pos.setdefault(id(v), []).append(j)
        self._last_use = self._liveness()
        self._node_index = 0
        self._pending_release: list[CVal] = []

    # -- naming and statements -----------------------------------------------------------
    def name(self, prefix: str) -> str:
        """A fresh C identifier: prefix followed by a per-prefix counter."""
        k = self._counter.get(prefix, 0)
        self._counter[prefix] = k + 1
        return f"{prefix}_{k}"  # fixed names (x0, s0, w0) never contain '_<digits>' at the end

    def line(self, text: str) -> None:
        self._stack[-1].add(Line(text))

    def comment(self, text: str) -> None:
        self._stack[-1].add(Comment(text.replace("*/", "* /")))

    def add(self, stmt: Stmt) -> None:
        self._stack[-1].add(stmt)

    def declare(self, text: str) -> None:
        """A declaration at the top of the function (visible to the cleanup code)."""
        self.decls.add(Line(text))

    def define(self, key: str, text: str) -> None:
        """A top-level C definition (helper function, BLAS prototype...), emitted once."""
        self._extra_defs.setdefault(key, text)

    @contextlib.contextmanager
    def block(self) -> Iterator[Block]:
        b = Block(braces=True)
        self.add(b)
        self._stack.append(b)
        try:
            yield b
        finally:
            self._stack.pop()

    @contextlib.contextmanager
    def loop(self, var: str, stop: str, start: str = "0", pragma: str | None = None,
             step: str = "1") -> Iterator[For]:
        f = For(var, start, stop, Block(), pragma, step)
        self.add(f)
        self._stack.append(f.body)
        try:
            yield f
        finally:
            self._stack.pop()

    @contextlib.contextmanager
    def if_(self, cond: str) -> Iterator[If]:
        s = If(cond, Block())
        self.add(s)
        self._stack.append(s.then)
        try:
            yield s
        finally:
            self._stack.pop()

    @contextlib.contextmanager
    def else_(self, stmt: If) -> Iterator[Block]:
        stmt.orelse = Block()
        self._stack.append(stmt.orelse)
        try:
            yield stmt.orelse
        finally:
            self._stack.pop()

    def check(self, cond: str, code: int, msg: str, *args: str, arg: int = -1, axis: int = -1,
              expected: str = "0", got: str = "0") -> None:
        """Emit: unless `cond` holds, record the error and jump to the cleanup code.

        `msg` is a printf format over `args` (int64 values: use %lld).  It may name function
        inputs as {in:K} (replaced by the argument's name in Python), so sources never contain
        variable names.
        """
        fmt = msg.replace("\\", "\\\\").replace('"', '\\"')
        cargs = "".join(f", (long long)({a})" for a in args)
        with self.if_(f"CCG_UNLIKELY(!({cond}))"):
            self.line(f'ccg_fail(err, {code}, {arg}, {axis}, (int64_t)({expected}), (int64_t)({got}), '
                      f'"{fmt}"{cargs});')
            self.line("goto fail;")

    def dim_name(self, shape_expr: str) -> str:
        """A readable description of where a shape symbol comes from, for error messages."""
        origin = self.shape_origin.get(shape_expr)
        if origin is None:
            return ""
        return f"{{in:{origin[0]}}} axis {origin[1]}"

    # -- liveness and memory ---------------------------------------------------------------
    def _liveness(self) -> dict[int, int]:
        last: dict[int, int] = {}
        for k, node in enumerate(self.order):
            for v in node.inputs:
                last[id(v)] = k
            for v in node.outputs:
                last.setdefault(id(v), k)
        end = len(self.order)
        for v in self.fgraph.outputs:
            last[id(v)] = end
        return last

    def _retain(self, val: CVal) -> None:
        if val.base is not None:
            self._refs[val.base] = self._refs.get(val.base, 0) + 1

    def _release(self, val: CVal) -> None:
        b = val.base
        if b is None or b not in self._refs:
            return
        self._refs[b] -= 1
        if self._refs[b] == 0 and b in self.slots and b not in self._free:
            self._free.append(b)

    def _dying(self, var: Variable) -> bool:
        return self._last_use.get(id(var)) == self._node_index

    def alloc(self, node: Apply, index: int, shape: list[str], reuse: list[tuple[Variable, CVal]] = (),
              zero: bool = False, fresh: bool = False) -> CVal:
        """A fresh C-contiguous buffer for output `index` of `node`, with these axis lengths.

        `reuse`: (input variable, its CVal) pairs whose buffer may be taken over when the input
        dies here (elementwise in-place); the op must then read each element before writing it.
        `zero`: the buffer starts zero-filled (fresh function outputs come from calloc, so large
        mostly-zero results cost only the pages written).
        `fresh`: never reuse a freed slot (a buffer allocated inside a loop body that must survive
        the following iterations, while the body's own temporaries reuse freed slots).
        """
        var = node.outputs[index]
        dt = var.dtype
        ctype = dtypes.c_type(dt)
        name = self.name("b")
        shape = list(shape)
        strides = row_major_strides(shape)
        # A function output is written straight into the caller's buffer.
        outs = self._out_pos.get(id(var))
        if outs and var.ndim > 0:
            j = outs[0]
            self._direct[id(var)] = j
            usable = self._offer_usable(j, node, reuse)
            self._emit_out_alloc(j, shape, dt, usable, zero)
            self.line(f"{ctype} *{name} = ({ctype} *)outputs[{j}].data;")
            # a donated buffer may be the input itself: mark the alias (no `restrict`)
            base = f"in{self.donate[j]}" if usable and j in self.donate else f"out{j}"
            return CVal(dt, var.ndim, ptr=name, shape=shape, strides=strides, contiguous=True, base=base)
        for in_var, in_val in reuse:
            base = in_val.base
            if (
                base in self.slots
                and self._refs.get(base) == 1
                and self._dying(in_var)
                and in_val.contiguous
                and in_val.dtype == dt
                and sum(1 for v in node.inputs if v is in_var) == 1
            ):
                self.comment(f"in place: output reuses {base}")
                self.line(f"{ctype} *{name} = ({ctype} *){in_val.ptr};")
                return CVal(dt, var.ndim, ptr=name, shape=shape, strides=strides, contiguous=True,
                            base=base)
        slot = self._take_slot(fresh)
        nbytes = self.name("nb")
        self.line(f"const int64_t {nbytes} = {self._nbytes_expr(shape, ctype)};")
        self.check(f"{nbytes} >= 0", ERR_MEMORY, "array size overflows int64")
        self.check(f"ccg_ensure(&{slot}, {nbytes})", ERR_MEMORY,
                   "cannot allocate %lld bytes", nbytes)
        self.line(f"{ctype} *{name} = ({ctype} *){slot};")
        if zero:
            self.line(f"memset({name}, 0, (size_t){nbytes});")
        return CVal(dt, var.ndim, ptr=name, shape=shape, strides=strides, contiguous=True, base=slot)

    def scratch(self, dtype: str, shape: list[str]) -> CVal:
        """A C-contiguous work buffer that is not a graph value (freed at the end of the call)."""
        ctype = dtypes.c_type(dtype)
        slot = f"w{len(self.slots)}"
        self.slots.append(slot)
        self.declare(f"char *{slot} = NULL;")
        nbytes = self.name("nb")
        self.line(f"const int64_t {nbytes} = {self._nbytes_expr(shape, ctype)};")
        self.check(f"{nbytes} >= 0 && ccg_ensure(&{slot}, {nbytes})", ERR_MEMORY,
                   "cannot allocate %lld bytes", nbytes)
        name = self.name("b")
        self.line(f"{ctype} *{name} = ({ctype} *){slot};")
        return CVal(dtype, len(shape), ptr=name, shape=list(shape), strides=row_major_strides(list(shape)),
                    contiguous=True, base=slot)

    def materialize(self, val: CVal) -> CVal:
        """`val` with a data pointer (register scalars broadcast to an array are written out)."""
        if val.ptr is not None:
            return val
        out = self.scratch(val.dtype, list(val.shape))
        from ccgrad.lower.loops import emit_copy

        emit_copy(self, out, val)
        return out

    def cast(self, val: CVal, dtype: str) -> CVal:
        """`val` converted to `dtype` (a contiguous copy when the dtype differs)."""
        if val.dtype == dtype:
            return val
        from ccgrad.lower.loops import emit_elementwise
        from ccgrad.ops.scalar import c_cast

        out = self.scratch(dtype, list(val.shape))
        pattern = tuple(None for _ in val.shape)
        emit_elementwise(self, [out], [val], [pattern], lambda e: ([], [c_cast(e[0], val.dtype, dtype)]))
        return out

    def use_blas(self) -> bool:
        """Paste the matrix-product helpers; True when they call BLAS."""
        from ccgrad import _paths
        from ccgrad.compile import blas_enabled

        on = blas_enabled()
        self.features.add("blas" if on else "matmul")
        text = ("#define CCG_USE_BLAS 1\n" if on else "") + _paths.read_csrc("ccgrad_blas.h")
        self.define("~blas", text)
        return on

    def scalar(self, node: Apply, index: int, init: str | None = None) -> CVal:
        """A register for a 0-d output of `node`; `init` assigns it at once."""
        var = node.outputs[index]
        name = self.name("r")
        ctype = dtypes.c_type(var.dtype)
        self.declare(f"{ctype} {name} = 0;")
        if init is not None:
            self.line(f"{name} = {init};")
        return CVal(var.dtype, 0, scalar=name, contiguous=True)

    def _take_slot(self, fresh: bool = False) -> str:
        if self._free and not fresh:
            return self._free.pop(0)
        s = f"s{len(self.slots)}"
        self.slots.append(s)
        self.declare(f"char *{s} = NULL;")
        return s

    @staticmethod
    def _nbytes_expr(shape: list[str], ctype: str) -> str:
        if not shape:
            return f"(int64_t)sizeof({ctype})"
        dims = ", ".join(shape)
        return f"ccg_nbytes((const int64_t[]){{{dims}}}, {len(shape)}, (int64_t)sizeof({ctype}))"

    def _offer_usable(self, j: int, node: Apply | None, reuse=()) -> bool:
        """May output j be written into the buffer the caller offers?  Always, unless that
        buffer is a donated input still read later (or through a live view)."""
        k = self.donate.get(j)
        if k is None:
            return True
        refs = self._refs.get(f"in{k}", 0)
        if node is not None:
            # this node's own elementwise reads of the input, element by element, are safe
            target = self.fgraph.inputs[k]
            safe = {id(v) for v, _ in reuse if v is target and self._dying(v)}
            refs -= len(safe)
        return refs == 0

    def _emit_out_alloc(self, j: int, shape: list[str], dt: str, offer_ok: bool = True, zero: bool = False) -> None:
        ctype = dtypes.c_type(dt)
        nb = self.name("nb")
        self.line(f"const int64_t {nb} = {self._nbytes_expr(shape, ctype)};")
        self.check(f"{nb} >= 0", ERR_MEMORY, "output size overflows int64")
        for a, d in enumerate(shape):
            self.line(f"outputs[{j}].shape[{a}] = {d};")
        cond = f"outputs[{j}].data == NULL || outputs[{j}].capacity < {nb}" if offer_ok else "1"
        if not offer_ok:
            self.comment(f"output {j}: the offered buffer is still being read; allocate")
        with self.if_(cond) as fresh:
            self.line(f"outputs[{j}].data = {'ccg_alloc_zero' if zero else 'ccg_alloc'}({nb});")
            self.line(f"out_owned[{j}] = 1;")
            self.check(f"outputs[{j}].data != NULL", ERR_MEMORY, "cannot allocate %lld bytes", nb)
        if zero:
            with self.else_(fresh):
                self.line(f"memset(outputs[{j}].data, 0, (size_t){nb});")

    # -- values of variables -----------------------------------------------------------------
    def value_of(self, v: Variable) -> CVal:
        try:
            return self.vals[id(v)]
        except KeyError:
            pass
        if isinstance(v, Constant):
            val = self._constant(v)
            self.vals[id(v)] = val
            return val
        raise LoweringError(f"no C value for {v} ({v.type!r}): not an input and not computed yet")

    def _constant(self, c: Constant) -> CVal:
        data = c.data
        if data.ndim == 0:
            return CVal(c.dtype, 0, scalar=dtypes.c_literal(data.item(), c.dtype), contiguous=True)
        ctype = dtypes.c_type(c.dtype)
        shape = [str(int(s)) for s in data.shape]
        strides = row_major_strides(shape)
        if data.size <= INLINE_CONSTANT_LIMIT:
            name = self.name("k")
            flat = data.reshape(-1)
            items = ", ".join(dtypes.c_literal(x, c.dtype) for x in flat.tolist()) or "0"
            self.define(f"const:{name}", f"static const {ctype} {name}[{max(1, flat.size)}] = {{{items}}};")
            return CVal(c.dtype, data.ndim, ptr=f"(({ctype} *){name})", shape=shape, strides=strides,
                        contiguous=True, base="const")
        # Large constant: a hidden input appended after the function's own inputs.
        k = self._hidden_index.get(id(c))
        if k is None:
            k = self._hidden_index[id(c)] = len(self.hidden)
            self.hidden.append(np.ascontiguousarray(data))
        idx = self.n_inputs + k
        name = self.name("h")
        self.line(f"{ctype} *{name} = ({ctype} *)inputs[{idx}].data;")
        return CVal(c.dtype, data.ndim, ptr=name, shape=shape, strides=strides, contiguous=True,
                    base="const")

    def unpack_inputs(self) -> None:
        """Read each input's pointer, lengths and strides; check dtype-size alignment and the
        static lengths the graph relies on."""
        for i, v in enumerate(self.fgraph.inputs):
            ctype = dtypes.c_type(v.dtype)
            if v.ndim == 0:
                name = f"x{i}"
                self.line(f"const {ctype} {name} = *(const {ctype} *)inputs[{i}].data;")
                self.vals[id(v)] = CVal(v.dtype, 0, scalar=name, contiguous=True, base=f"in{i}")
                continue
            ptr = f"x{i}"
            self.line(f"{ctype} *{ptr} = ({ctype} *)inputs[{i}].data;")
            shape, strides = [], []
            for a in range(v.ndim):
                d, s = f"x{i}_n{a}", f"x{i}_s{a}"
                self.line(f"const int64_t {d} = inputs[{i}].shape[{a}];")
                self.check(f"inputs[{i}].strides[{a}] % (int64_t)sizeof({ctype}) == 0", ERR_INTERNAL,
                           f"argument {{in:{i}}} is not aligned", arg=i, axis=a)
                self.line(f"const int64_t {s} = inputs[{i}].strides[{a}] / (int64_t)sizeof({ctype});")
                self.shape_origin[d] = (i, a)
                want = v.type.shape[a]
                if want is not None:
                    self.check(f"{d} == {want}", ERR_SHAPE,
                               f"argument {{in:{i}}} must have length {want} on axis {a} (static shape), "
                               "got %lld", d, arg=i, axis=a, expected=str(want), got=d)
                    d = str(want) if want == 1 else d
                shape.append(d)
                strides.append("0" if want == 1 else s)
            flag = f"x{i}_c"
            self.line(f"const int {flag} = {contiguity_condition(shape, strides)};")
            val = CVal(v.dtype, v.ndim, ptr=ptr, shape=shape, strides=strides, contig_flag=flag,
                       base=f"in{i}")
            self.vals[id(v)] = val
            self._retain(val)

    # -- inner graphs (scan bodies) ----------------------------------------------------------
    def emit_inner(self, fgraph: FunctionGraph, bound: list[CVal]) -> list[CVal]:
        """Emit `fgraph`'s nodes at the current position, its inputs bound to `bound`; returns
        its outputs' values.  Slots, names and declarations are shared with this function, so
        inner buffers are allocated once and reused by every step of an enclosing loop; the
        inner values never write into `bound` memory (it is owned by the caller)."""
        child = Emitter.__new__(Emitter)
        for attr in ("decls", "_stack", "_counter", "slots", "_free", "_refs", "_extra_defs", "features",
                     "hidden", "_hidden_index", "shape_origin"):
            setattr(child, attr, getattr(self, attr))
        child.fgraph = fgraph
        child.order = fgraph.toposort()
        child.vals = {}
        child.donate = {}
        child.n_inputs = self.n_inputs
        child._direct = {}
        child._out_pos = {}  # inner outputs are not function outputs
        child._last_use = child._liveness()
        child._node_index = 0
        child._pending_release = []
        for v, val in zip(fgraph.inputs, bound):
            child.vals[id(v)] = CVal(val.dtype, val.ndim, ptr=val.ptr, shape=list(val.shape),
                                     strides=list(val.strides), scalar=val.scalar, contiguous=val.contiguous,
                                     contig_flag=val.contig_flag, base=None)
        child.emit_nodes()
        outs = [child.value_of(v) for v in fgraph.outputs]
        # inner results stay valid until the enclosing code copied them; their slots are then
        # free for later code (the loop body is generated once)
        self._pending_release.extend(outs)
        return outs

    def release_inner(self) -> None:
        """Free the slots of inner results once the enclosing code has consumed them."""
        for val in self._pending_release:
            self._release(val)
        self._pending_release = []

    def output_position(self, var: Variable) -> int | None:
        """The function-output index `var` is written to directly, if any."""
        j = self._direct.get(id(var))
        return j

    def base_of_output(self, node: Apply, index: int) -> str | None:
        j = self._direct.get(id(node.outputs[index]))
        return f"out{j}" if j is not None else None

    # -- the main loop -------------------------------------------------------------------------
    def emit_nodes(self) -> None:
        from ccgrad.lower.dispatch import emit_node

        for k, node in enumerate(self.order):
            self._node_index = k
            ins = [self.value_of(v) for v in node.inputs]
            self.comment(f"{k}: {node.op}")
            outs = emit_node(self, node, ins)
            if len(outs) != len(node.outputs):
                raise LoweringError(f"{node.op}: C emission returned {len(outs)} values")
            for v, val in zip(node.outputs, outs):
                if val.dtype != v.dtype or val.ndim != v.ndim:
                    raise LoweringError(f"{node.op}: C value {val.dtype}/{val.ndim}-d for {v.type!r}")
                self.vals[id(v)] = val
                self._retain(val)
            # Release what dies here (inputs used for the last time, unused outputs).
            for v in dict.fromkeys(node.inputs):
                if self._last_use.get(id(v)) == k and id(v) in self.vals:
                    self._release(self.vals[id(v)])
            for v in node.outputs:
                if self._last_use.get(id(v)) == k:
                    self._release(self.vals[id(v)])

    def emit_outputs(self) -> None:
        """Hand each output to the caller: computed in place already, or copied now."""
        done: set[int] = set()
        for j, v in enumerate(self.fgraph.outputs):
            val = self.value_of(v)
            ctype = dtypes.c_type(v.dtype)
            if v.ndim == 0:
                self.line(f"*({ctype} *)outputs[{j}].scalar = {val.value()};")
                self.line(f"outputs[{j}].data = NULL;")
                continue
            if self._direct.get(id(v)) == j and id(v) not in done:
                done.add(id(v))
                continue
            self.comment(f"output {j}: copy into its own buffer")
            self._emit_out_alloc(j, list(val.shape), v.dtype, self._offer_usable(j, None))
            dst = CVal(v.dtype, v.ndim, ptr=f"(({ctype} *)outputs[{j}].data)", shape=list(val.shape),
                       strides=row_major_strides(list(val.shape)), contiguous=True)
            from ccgrad.lower.loops import emit_copy

            emit_copy(self, dst, val)
