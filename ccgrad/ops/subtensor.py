"""Indexing: Subtensor (basic slicing/int indexing, symbolic scalar indices), AdvancedSubtensor1
(integer vector on axis 0), AdvancedSubtensor (integer arrays, numpy semantics), their
set/increment counterparts IncSubtensor / AdvancedIncSubtensor1 / AdvancedIncSubtensor, and the
builders getitem (x[...]), set_subtensor and inc_subtensor.

The index is an op parameter, the *spec*: one entry per indexed axis of x, each
  - a Python int (a constant index, may be negative),
  - "i" (a symbolic int scalar index: the next index input),
  - "a" (an integer array index: the next index input; advanced ops only),
  - a (start, stop, step) tuple whose fields are None, Python ints or "i".
Index inputs follow x (and y for the inc ops) in spec order.  Axes beyond the spec are taken
whole; `None`/newaxis is applied first by a DimShuffle (as Theano does), Ellipsis is expanded,
trailing full slices are dropped, so equal indexings give equal ops.
"""

from __future__ import annotations

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, Op, TensorType, Variable, as_variable, builder, register
from ccgrad.ops.shape import (
    Shape,
    _fold,
    as_int64,
    batch_broadcast,
    dimshuffle,
    move_axis_to_front,
    shape_i,
    static_int,
    sym_add,
    sym_ceildiv,
    sym_eq,
    sym_lt,
    sym_max,
    sym_min,
    sym_neg,
    sym_sub,
    sym_switch,
)

FULL = (None, None, None)


# ---------------------------------------------------------------------------------------------
# Parsing a Python index into (spec, inputs)


def _check_int_var(v: Variable, what: str) -> None:
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
    _check_int_var(v, what)
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
        x = dimshuffle(x, tuple(order))
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
            _check_int_var(v, what)
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


def _pp_index(spec: tuple, args: list[str]) -> str:
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


def _static_slice_len(n: int | None, sl: tuple) -> int | None:
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
    step = 1 if step is None else _fold(step)

    def forward(stp):
        s = _norm_bound(start, n, 0, n, 0)
        e = _norm_bound(stop, n, 0, n, n)
        return sym_max(0, sym_ceildiv(sym_sub(e, s), stp))

    def backward(stp):
        last = sym_sub(n, 1)
        s = _norm_bound(start, n, -1, last, last)
        e = _norm_bound(stop, n, -1, last, -1)
        return sym_max(0, sym_ceildiv(sym_sub(s, e), sym_neg(stp)))

    if isinstance(step, int):
        return forward(step) if step > 0 else backward(step)
    return sym_switch(sym_lt(0, step), forward(step), backward(step))


def _static_bcast(shapes: list) -> list:
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


def _sym_bcast(shapes: list) -> list:
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(nd):
        col = [_fold(s[len(s) - nd + k]) for s in shapes if len(s) - nd + k >= 0]
        fixed = [d for d in col if isinstance(d, int) and d != 1]
        if fixed:
            out.append(fixed[0])
            continue
        r = col[0]
        for d in col[1:]:
            r = sym_switch(sym_eq(r, 1), d, r)
        out.append(r)
    return out


def _index_dims(spec: tuple, xdims, info, slice_len, bcast) -> list:
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


def _np_index(name: str, spec: tuple, shape: tuple, values) -> tuple:
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


def _static_or_i(v: Variable):
    c = static_int(v)
    return "i" if c is None else c


def _zero(dtype: str) -> Constant:
    return Constant(TensorType(dtype, shape=()), 0)


# ---------------------------------------------------------------------------------------------
# Reading: Subtensor, AdvancedSubtensor1, AdvancedSubtensor


class _Read:
    """What the three reading ops share; each class fixes which specs it accepts."""

    spec: tuple = ()
    pp_name = "subtensor"

    def __str__(self) -> str:
        return f"{type(self).__name__}{{{spec_str(self.spec)}}}"

    def inc_op(self, set_instead_of_inc: bool) -> Op:
        raise NotImplementedError

    def make_node(self, x, *idx) -> Apply:
        name = type(self).__name__
        x = as_variable(x)
        idx = [as_variable(v) for v in idx]
        spec = self.spec
        if len(spec) > x.ndim:
            raise IndexError(f"{name}{{{spec_str(spec)}}}: too many indices for a {x.ndim}-d {x.type!r}")
        wants = [p for e in spec for p in (e if isinstance(e, tuple) else (e,)) if p in ("i", "a")]
        if len(wants) != len(idx):
            raise TypeError(f"{name}{{{spec_str(spec)}}} takes {len(wants)} index inputs, got {len(idx)}")
        for w, v in zip(wants, idx):
            _check_int_var(v, name)
            if (w == "i") != (v.ndim == 0):
                kind = "a scalar" if w == "i" else "an array"
                raise TypeError(f"{name}{{{spec_str(spec)}}}: expected {kind} index, got {v.type!r}")
        # Statically known symbolic scalars (e.g. shape_i of a static axis) refine the type.
        info = [(_static_or_i(v) if w == "i" else v.type.shape) for w, v in zip(wants, idx)]
        it = iter(info)
        for axis, e in enumerate(spec):
            if isinstance(e, tuple):
                for p in e:
                    if p == "i":
                        next(it)
                continue
            if e in ("i", "a"):
                e = next(it)
            n = x.type.shape[axis]
            if isinstance(e, int) and n is not None and not -n <= e < n:
                raise IndexError(f"{name}: index {e} is out of bounds for axis {axis} with length {n}")
        dims = _index_dims(spec, x.type.shape, info, _static_slice_len, _static_bcast)
        return Apply(self, [x, *idx], [TensorType(x.dtype, shape=dims)])

    def perform(self, node, inputs):
        x, *vals = inputs
        index = _np_index(type(self).__name__, self.spec, x.shape, vals)
        return [np.array(x[index], copy=True)]

    def infer_shape(self, node, input_shapes):
        xdims = [_fold(s) for s in input_shapes[0]]
        info = [v if v.ndim == 0 else [_fold(s) for s in shp]
                for v, shp in zip(node.inputs[1:], input_shapes[1:])]
        dims = _index_dims(self.spec, xdims, info, sym_slice_len, _sym_bcast)
        return [tuple(as_int64(d) for d in dims)]

    def connection_pattern(self, node):
        return [[True]] + [[False]] * (len(node.inputs) - 1)

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        x, *idx = node.inputs
        rest = [None] * len(idx)
        if gz is None or x.dtype not in dtypes.FLOATS:
            return [None] + rest
        gx = self.inc_op(False).make_node(builder("zeros_like")(x), gz, *idx).outputs[0]
        return [gx] + rest

    def jvp(self, node, tangents):
        t = tangents[0]
        return [None if t is None else self.make_node(t, *node.inputs[1:]).outputs[0]]

    def batch(self, node, inputs, batched):
        return _batch_read(self, inputs, batched)

    def pp(self, node, args):
        return f"{args[0]}[{_pp_index(self.spec, args[1:])}]"


class Subtensor(_Read, Op):
    """Basic indexing x[...] with ints, slices and symbolic int scalars (numpy semantics:
    slices clamp, out-of-range ints raise IndexError)."""

    __props__ = ("spec",)

    def __init__(self, spec: tuple):
        spec = tuple(spec)
        if "a" in spec:
            raise ValueError(f"Subtensor spec {spec} has an array entry; use AdvancedSubtensor")
        self.spec = spec

    def inc_op(self, set_instead_of_inc):
        return IncSubtensor(self.spec, set_instead_of_inc)


class AdvancedSubtensor1(_Read, Op):
    """x[idx] with an integer vector idx on axis 0 (the common gather; negative indices wrap)."""

    spec = ("a",)

    def __str__(self) -> str:
        return "AdvancedSubtensor1"

    def make_node(self, x, *idx) -> Apply:
        if len(idx) != 1 or as_variable(idx[0]).ndim != 1:
            raise TypeError("AdvancedSubtensor1 takes one integer vector index")
        return super().make_node(x, *idx)

    def inc_op(self, set_instead_of_inc):
        return AdvancedIncSubtensor1(set_instead_of_inc)


class AdvancedSubtensor(_Read, Op):
    """Indexing with integer arrays (and ints/slices beside them), numpy's advanced rules:
    the arrays broadcast together; their dims replace the indexed axes in place when the array
    entries are contiguous, else they go in front."""

    __props__ = ("spec",)

    def __init__(self, spec: tuple):
        spec = tuple(spec)
        if "a" not in spec:
            raise ValueError(f"AdvancedSubtensor spec {spec} has no array entry; use Subtensor")
        self.spec = spec

    def inc_op(self, set_instead_of_inc):
        return AdvancedIncSubtensor(self.spec, set_instead_of_inc)


def read_op(spec: tuple, inputs: list[Variable]) -> Op:
    """The reading op for a spec: Subtensor, AdvancedSubtensor1 (a lone vector) or AdvancedSubtensor."""
    if "a" not in spec:
        return Subtensor(spec)
    if spec == ("a",) and inputs[0].ndim == 1:
        return AdvancedSubtensor1()
    return AdvancedSubtensor(spec)


def _fields(spec: tuple):
    """(entry kind, slice?) for each index input in order."""
    for e in spec:
        if isinstance(e, tuple):
            yield from (("i", True) for p in e if p == "i")
        elif e in ("i", "a"):
            yield e, False


def _batch_read(op: _Read, inputs, batched):
    x, idx = inputs[0], list(inputs[1:])
    spec = op.spec
    if not any(batched[1:]):
        if not batched[0]:
            return [op.make_node(x, *idx).outputs[0]], [False]
        new_spec = (FULL,) + spec
        out = read_op(new_spec, idx).make_node(x, *idx).outputs[0]
        k = 0
        if "a" in spec and adv_location(new_spec) == 0:
            k = max(v.ndim for (e, _), v in zip(_fields(spec), idx) if e == "a")
        return [move_axis_to_front(out, k)], [True]
    # A batched index: express the whole thing as one advanced index whose broadcast dims start
    # with the batch axis, then move that axis to the front.
    flags = list(zip(_fields(spec), idx, batched[1:]))
    if any(is_slice and b for (_, is_slice), _, b in flags):
        raise NotImplementedError(f"{op}: batching over a slice bound is not supported")
    nb = shape_i(next(v for _, v, b in flags if b), 0)
    K = max([v.ndim - b for (e, _), v, b in flags if e == "a"] + [0])
    new_spec: list = []
    new_inputs: list[Variable] = []
    if batched[0]:
        ar = builder("arange")(nb)
        new_spec.append("a")
        new_inputs.append(dimshuffle(ar, (0,) + ("x",) * K))
    it = iter(flags)
    for e in spec:
        if isinstance(e, tuple):
            for p in e:
                if p == "i":
                    new_inputs.append(next(it)[1])
            new_spec.append(e)
        elif e in ("i", "a"):
            _, v, b = next(it)
            if b:
                v = dimshuffle(v, (0,) + ("x",) * (K - v.ndim + 1) + tuple(range(1, v.ndim)))
                e = "a"
            new_spec.append(e)
            new_inputs.append(v)
        else:
            new_spec.append(e)
    new_spec_t = tuple(new_spec)
    out = AdvancedSubtensor(new_spec_t).make_node(x, *new_inputs).outputs[0]
    return [move_axis_to_front(out, adv_location(new_spec_t))], [True]


# ---------------------------------------------------------------------------------------------
# Writing: IncSubtensor, AdvancedIncSubtensor1, AdvancedIncSubtensor


def _cast_y(name: str, y: Variable, dtype: str) -> Variable:
    if y.dtype == dtype:
        return y
    if isinstance(y, Constant) and y.weak:
        data = y.data.astype(dtype)
        if not np.array_equal(data, y.data):
            raise TypeError(f"{name}: the value {y.data.item()!r} cannot be stored in a {dtype} tensor")
        return Constant(TensorType(dtype, shape=y.type.shape), data)
    if np.can_cast(y.dtype, dtype, "safe"):
        return builder("cast")(y, dtype)
    raise TypeError(
        f"{name}: cannot store {y.dtype} values into a {dtype} tensor without losing "
        f"information; cast y to {dtype} first"
    )


def _check_y(name: str, ytype: TensorType, y: np.ndarray, view_shape: tuple) -> None:
    """Theano's broadcasting rule for y against the indexed region (run time)."""
    off = len(view_shape) - y.ndim
    if off < 0:
        raise ValueError(f"{name}: y of shape {y.shape} has more dims than the indexed region {view_shape}")
    for k in range(y.ndim):
        if ytype.shape[k] == 1 or y.shape[k] == view_shape[off + k]:
            continue
        raise ValueError(
            f"{name}: y of shape {y.shape} does not match the indexed region of shape {view_shape} "
            f"on axis {off + k}; only axes of static length 1 broadcast"
        )


class _Inc:
    """What the three writing ops share: x with x[index] replaced by (or incremented by) y."""

    spec: tuple = ()
    set_instead_of_inc: bool = False

    def __str__(self) -> str:
        kind = "Set" if self.set_instead_of_inc else "Inc"
        return f"{type(self).__name__}{{{kind}; {spec_str(self.spec)}}}"

    def read_op(self) -> Op:
        raise NotImplementedError

    def with_spec(self, spec: tuple) -> Op:
        """The writing op of the same kind for another spec (used by batch rules)."""
        if "a" in spec:
            return AdvancedIncSubtensor(spec, self.set_instead_of_inc)
        return IncSubtensor(spec, self.set_instead_of_inc)

    def make_node(self, x, y, *idx) -> Apply:
        name = "set_subtensor" if self.set_instead_of_inc else "inc_subtensor"
        x = as_variable(x)
        view = self.read_op().make_node(x, *idx).outputs[0]
        y = _cast_y(name, as_variable(y), x.dtype)
        if y.ndim > view.ndim:
            raise ValueError(
                f"{name}: y {y.type!r} has more dims than the indexed region {view.type!r}"
            )
        off = view.ndim - y.ndim
        for k, s in enumerate(y.type.shape):
            v = view.type.shape[off + k]
            if s not in (None, 1) and v is not None and s != v:
                raise ValueError(
                    f"{name}: y of static shape {y.type.shape} cannot fill the indexed region of "
                    f"static shape {view.type.shape} (axis {off + k})"
                )
        return Apply(self, [x, y, *view.owner.inputs[1:]], [x.type])

    def perform(self, node, inputs):
        x, y, *vals = inputs
        name = type(self).__name__
        out = np.array(x, copy=True)
        index = _np_index(name, self.spec, x.shape, vals)
        _check_y(name, node.inputs[1].type, y, out[index].shape)
        if self.set_instead_of_inc:
            out[index] = y
        elif "a" in self.spec:
            np.add.at(out, index, y)  # repeated indices accumulate
        else:
            out[index] += y
        return [out]

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def connection_pattern(self, node):
        return [[True], [True]] + [[False]] * (len(node.inputs) - 2)

    def vjp(self, node, cotangents):
        gz = cotangents[0]
        x, y, *idx = node.inputs
        rest = [None] * len(idx)
        if gz is None:
            return [None, None] + rest
        gx = None
        if x.dtype in dtypes.FLOATS:
            gx = gz
            if self.set_instead_of_inc:
                gx = self.make_node(gz, _zero(gz.dtype), *idx).outputs[0]
        gy = None
        if y.dtype in dtypes.FLOATS:
            gy = self.read_op().make_node(gz, *idx).outputs[0]
            if gy.ndim > y.ndim:
                gy = builder("sum")(gy, axis=tuple(range(gy.ndim - y.ndim)))
        return [gx, gy] + rest

    def jvp(self, node, tangents):
        tx, ty = tangents[0], tangents[1]
        x, _, *idx = node.inputs
        if (tx is None and ty is None) or x.dtype not in dtypes.FLOATS:
            return [None]
        if tx is None:
            tx = builder("zeros_like")(x)
        if ty is None:
            if not self.set_instead_of_inc:
                return [tx]
            ty = _zero(x.dtype)
        ty = builder("cast")(ty, x.dtype)
        return [self.make_node(tx, ty, *idx).outputs[0]]

    def batch(self, node, inputs, batched):
        x, y, *idx = inputs
        if any(batched[2:]):
            raise NotImplementedError(f"{self}: batching over the index is not supported")
        if not batched[0] and not batched[1]:
            return [self.make_node(x, y, *idx).outputs[0]], [False]
        nb = shape_i(x if batched[0] else y, 0)
        if not batched[0]:
            x = batch_broadcast(x, nb)
        view_nd = self.read_op().make_node(node.inputs[0], *node.inputs[2:]).outputs[0].ndim
        new_spec = (FULL,) + self.spec
        k = 0
        if "a" in self.spec and adv_location(new_spec) == 0:
            k = max(v.ndim for (e, _), v in zip(_fields(self.spec), idx) if e == "a")
        yb = y if batched[1] else dimshuffle(y, ("x",) + tuple(range(y.ndim)))
        pad = view_nd + 1 - yb.ndim
        yb = dimshuffle(yb, (0,) + ("x",) * pad + tuple(range(1, yb.ndim)))
        yb = dimshuffle(yb, tuple(range(1, k + 1)) + (0,) + tuple(range(k + 1, yb.ndim)))
        return [self.with_spec(new_spec).make_node(x, yb, *idx).outputs[0]], [True]

    def pp(self, node, args):
        fn = "set_subtensor" if self.set_instead_of_inc else "inc_subtensor"
        return f"{fn}({args[0]}[{_pp_index(self.spec, args[2:])}], {args[1]})"


class IncSubtensor(_Inc, Op):
    """x with x[basic index] set to / incremented by y (y broadcasts as in Theano)."""

    __props__ = ("spec", "set_instead_of_inc")

    def __init__(self, spec: tuple, set_instead_of_inc: bool = False):
        self.spec = tuple(spec)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        Subtensor(self.spec)  # validates the spec

    def read_op(self):
        return Subtensor(self.spec)


class AdvancedIncSubtensor1(_Inc, Op):
    """x with x[idx] (integer vector on axis 0) set to / incremented by y; increments at
    repeated indices accumulate (np.add.at)."""

    __props__ = ("set_instead_of_inc",)
    spec = ("a",)

    def __init__(self, set_instead_of_inc: bool = False):
        self.set_instead_of_inc = bool(set_instead_of_inc)

    def read_op(self):
        return AdvancedSubtensor1()


class AdvancedIncSubtensor(_Inc, Op):
    """x with x[advanced index] set to / incremented by y; increments at repeated positions
    accumulate (np.add.at)."""

    __props__ = ("spec", "set_instead_of_inc")

    def __init__(self, spec: tuple, set_instead_of_inc: bool = False):
        self.spec = tuple(spec)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        AdvancedSubtensor(self.spec)

    def read_op(self):
        return AdvancedSubtensor(self.spec)


# ---------------------------------------------------------------------------------------------
# Builders


@register("getitem")
def getitem(x, index) -> Variable:
    """x[index] with numpy's semantics for ints, slices, None, Ellipsis and integer arrays.

    `x.shape[i]` with a Python int i gives `shape_i(x, i)` directly (a scalar that keeps the
    static length, so `T.arange(y.shape[0])` has a static shape when y's type knows it).
    """
    x = as_variable(x)
    if (x.owner is not None and isinstance(x.owner.op, Shape)
            and isinstance(index, int | np.integer) and not isinstance(index, bool)):
        inner = x.owner.inputs[0]
        if not -inner.ndim <= index < inner.ndim:
            raise IndexError(f"index {index} is out of bounds for the shape of a {inner.ndim}-d tensor")
        return shape_i(inner, int(index))
    x, spec, inputs = parse_index(x, index)
    return read_op(spec, inputs).make_node(x, *inputs).outputs[0]


def _write(x_sub, y, set_: bool, what: str) -> Variable:
    node = x_sub.owner if isinstance(x_sub, Variable) else None
    if node is None or not isinstance(node.op, _Read):
        raise TypeError(
            f"{what}: the first argument must be the result of indexing a tensor (x[...]), "
            f"got {x_sub!r}"
        )
    return node.op.inc_op(set_).make_node(node.inputs[0], y, *node.inputs[1:]).outputs[0]


@register("set_subtensor")
def set_subtensor(x_sub, y, inplace: bool = False, tolerate_inplace_aliasing: bool = False) -> Variable:
    """Theano's set_subtensor(x[idx], y): a copy of x with x[idx] replaced by y."""
    return _write(x_sub, y, True, "set_subtensor")


@register("inc_subtensor")
def inc_subtensor(x_sub, y, inplace: bool = False, set_instead_of_inc: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> Variable:
    """Theano's inc_subtensor(x[idx], y): a copy of x with y added at x[idx] (repeated
    advanced indices accumulate)."""
    return _write(x_sub, y, set_instead_of_inc, "inc_subtensor")


def write_at(x, index, y, set_instead_of_inc: bool = False) -> Variable:
    """x with x[index] set to / incremented by y, without building the x[index] read."""
    x, spec, inputs = parse_index(as_variable(x), index)
    return read_op(spec, inputs).inc_op(set_instead_of_inc).make_node(x, y, *inputs).outputs[0]


@register("take")
def take(a, indices, axis: int | None = None) -> Variable:
    """numpy's take: elements of a at integer `indices` along `axis` (flattened a when None)."""
    a = as_variable(a)
    if axis is None:
        return getitem(builder("flatten")(a), indices)
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"take: axis {axis} out of range for a {a.ndim}-d input")
    return getitem(a, (slice(None),) * (axis % a.ndim) + (indices,))
