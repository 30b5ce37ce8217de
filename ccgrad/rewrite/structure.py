"""Structure rewrites for Jacobians and Hessians: banded matrices.

Vectorized Jacobians multiply cotangents by an identity basis (an Eye node), so the Jacobian of
an elementwise or stencil-like function is assembled from slices of Eye, products with row or
column vectors, sums, placements into zeros (inc_subtensor) and a transpose: several passes
over n*n elements for a matrix that is zero outside a few diagonals.  This pass follows those
matrices symbolically as {offset: vector of the diagonal's values} and, where such a matrix
meets an op it cannot follow (or is an output), builds it once with BandedMatrix: zeros plus a
write per diagonal.  The Hessian of Rosenbrock becomes three diagonals; the Jacobian of x**2
one.

Offsets are static ints; lengths stay symbolic.  A matrix of shape (N, M) has its diagonal k
starting at row max(0, -k), column max(0, k), with length max(0, min(N - max(0,-k), M - max(0,k))).
"""

from __future__ import annotations

from collections.abc import Sequence

from ccgrad.graph import Constant, FunctionGraph, TensorType, Variable, builder, clone_replace
from ccgrad.ops.diag import BandedMatrix, Eye
from ccgrad.ops.elemwise import Elemwise
from ccgrad.ops.shape import Alloc, DimShuffle
from ccgrad.ops.subtensor import IncSubtensor, Subtensor
from ccgrad.ops.symint import as_int64, static_int, sym_max, sym_min, sym_sub

MAX_DIAGONALS = 64


class Band:
    """A matrix of shape (n, m) known to be zero outside `diags` (offset -> 1-d values)."""

    def __init__(self, n, m, diags: dict[int, Variable], dtype: str):
        self.n, self.m, self.diags, self.dtype = n, m, diags, dtype

    def length(self, k: int):
        return sym_max(0, sym_min(sym_sub(self.n, max(0, -k)), sym_sub(self.m, max(0, k))))


def _zeros(length, dtype: str) -> Variable:
    return builder("alloc")(Constant(TensorType(dtype, shape=()), 0), as_int64(length))


def _const_zero(v: Variable) -> bool:
    return isinstance(v, Constant) and v.data.size > 0 and not v.data.any()


def _slice_starts(spec) -> tuple[int, int] | None:
    """Static row/column starts of a 2-d unit-step slice spec, or None."""
    entries = list(spec) + [(None, None, None)] * (2 - len(spec))
    starts = []
    for e in entries[:2]:
        if not isinstance(e, tuple):
            return None
        start, _stop, step = e
        if step not in (None, 1) or not (start is None or (isinstance(start, int) and start >= 0)):
            return None
        starts.append(start or 0)
    return starts[0], starts[1]


def _shape2(node, n, m) -> tuple:
    """The (rows, cols) of a Subtensor of an (n, m) matrix, from n and m (not from the matrix,
    so a band's source, e.g. an Eye, is not kept alive for its shape)."""
    shp = node.op.infer_shape(node, [(as_int64(n), as_int64(m))])[0]
    return shp[0], shp[1]


class _Analysis:
    def __init__(self):
        self.bands: dict[int, Band] = {}

    def band(self, v: Variable) -> Band | None:
        return self.bands.get(id(v))

    def visit(self, node) -> None:
        out = node.outputs[0] if len(node.outputs) == 1 else None
        if out is None or out.ndim != 2:
            return
        op = node.op
        b = None
        if isinstance(op, Eye):
            k = static_int(node.inputs[2])
            if k is not None:
                band = Band(node.inputs[0], node.inputs[1], {}, out.dtype)
                one = Constant(TensorType(out.dtype, shape=()), 1)
                band.diags[k] = builder("alloc")(one, as_int64(band.length(k)))
                b = band
        elif isinstance(op, Alloc) and _const_zero(node.inputs[0]):
            b = Band(node.inputs[-2], node.inputs[-1], {}, out.dtype)
        elif isinstance(op, Alloc) and (inner := self.band(node.inputs[0])) is not None and len(node.inputs) == 3:
            if not inner.diags:  # zeros broadcast to a bigger shape: still zeros
                b = Band(node.inputs[1], node.inputs[2], {}, out.dtype)
            elif node.inputs[0].type.shape == out.type.shape:
                b = inner
        elif isinstance(op, Subtensor):
            b = self._subtensor(node)
        elif isinstance(op, IncSubtensor):
            b = self._inc(node)
        elif isinstance(op, DimShuffle) and op.new_order == (1, 0):
            src = self.band(node.inputs[0])
            if src is not None:
                b = Band(src.m, src.n, {-k: v for k, v in src.diags.items()}, src.dtype)
        elif isinstance(op, Elemwise):
            b = self._elemwise(node)
        if b is not None and len(b.diags) <= MAX_DIAGONALS:
            self.bands[id(out)] = b

    def _subtensor(self, node) -> Band | None:
        src = self.band(node.inputs[0])
        if src is None or len(node.inputs) != 1:
            return None
        starts = _slice_starts(node.op.spec)
        if starts is None:
            return None
        r0, c0 = starts
        n2, m2 = _shape2(node, src.n, src.m)
        res = Band(n2, m2, {}, src.dtype)
        for k, v in src.diags.items():
            kk = k + r0 - c0
            # the first element of diagonal k inside the slice, counted along the diagonal
            t0 = max(r0 - max(0, -k), c0 - max(0, k), 0)
            res.diags[kk] = builder("getitem")(v, slice(t0, None))[: as_int64(res.length(kk))]
        return res

    def _inc(self, node) -> Band | None:
        z, y = node.inputs[0], node.inputs[1]
        bz, by = self.band(z), self.band(y)
        if bz is None or by is None or len(node.inputs) != 2:
            return None
        if node.op.set_instead_of_inc and bz.diags:
            return None
        starts = _slice_starts(node.op.spec)
        if starts is None:
            return None
        r0, c0 = starts
        res = Band(bz.n, bz.m, dict(bz.diags), node.outputs[0].dtype)
        for k, v in by.diags.items():
            kk = k + c0 - r0
            pre = (r0 + max(0, -k)) - max(0, -kk)
            total = res.length(kk)
            post = sym_max(0, sym_sub(sym_sub(total, pre), as_int64(by.length(k))))
            parts = ([_zeros(pre, v.dtype)] if pre else []) + [v, _zeros(post, v.dtype)]
            # [:total]: on tiny matrices the block's diagonal may start past the end
            placed = builder("join")(0, *parts)[: as_int64(total)]
            res.diags[kk] = placed if kk not in res.diags else res.diags[kk] + placed
        return res

    def _elemwise(self, node) -> Band | None:
        name = node.op.scalar_op.name
        ins = node.inputs
        bands = [self.band(v) for v in ins]
        out = node.outputs[0]
        if name in ("add", "sub"):
            if any(b is None for b in bands) or any(v.type.shape != out.type.shape and 1 in v.type.shape
                                                     for v in ins):
                return None
            res = Band(bands[0].n, bands[0].m, {}, out.dtype)
            for i, b in enumerate(bands):
                for k, v in b.diags.items():
                    v = -v if (name == "sub" and i == 1) else v
                    res.diags[k] = v if k not in res.diags else res.diags[k] + v
            return res
        if name == "neg" and bands[0] is not None:
            return Band(bands[0].n, bands[0].m, {k: -v for k, v in bands[0].diags.items()}, out.dtype)
        if name == "cast" and bands[0] is not None:
            b = bands[0]
            return Band(b.n, b.m, {k: builder("cast")(v, out.dtype) for k, v in b.diags.items()}, out.dtype)
        if name == "mul":
            banded = [i for i, b in enumerate(bands) if b is not None]
            if len(banded) != 1:
                return None
            b = bands[banded[0]]
            others = [v for i, v in enumerate(ins) if i != banded[0]]
            res = Band(b.n, b.m, {}, out.dtype)
            for k, v in b.diags.items():
                i0, j0 = max(0, -k), max(0, k)
                length = as_int64(b.length(k))
                term = v
                for f in others:
                    s = f.type.shape
                    if s == (1, 1):
                        g = builder("dimshuffle")(f, ())
                    elif s[0] == 1:
                        g = builder("getitem")(f, (0, slice(j0, None)))[:length]
                    elif s[1] == 1:
                        g = builder("getitem")(f, (slice(i0, None), 0))[:length]
                    else:
                        g = builder("diagonal")(f, k)
                    term = term * g
                res.diags[k] = term
            return res
        return None


def structure_pass(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> list[Variable]:
    """Build banded matrices with BandedMatrix where the graph would assemble them densely."""
    fg = FunctionGraph(list(inputs), list(outputs))
    an = _Analysis()
    order = fg.toposort()
    for node in order:
        an.visit(node)
    if not an.bands:
        return list(outputs)
    clients = fg.clients
    replace: dict[Variable, Variable] = {}
    for node in order:
        for out in node.outputs:
            b = an.band(out)
            if b is None or not b.diags or isinstance(node.op, BandedMatrix):
                continue
            # build it where a consumer cannot follow the band (or it leaves the function)
            frontier = any(c == "output" or an.band(c.outputs[0]) is None for c, _ in clients.get(out, []))
            if not frontier:
                continue
            new = builder("banded")(as_int64(b.n), as_int64(b.m),
                                    {k: builder("cast")(v, out.dtype) for k, v in b.diags.items()})
            if new.dtype != out.dtype:
                new = builder("cast")(new, out.dtype)
            replace[out] = new
    if not replace:
        return list(outputs)
    from ccgrad.rewrite.canonicalize import CANONICALIZE

    # the diagonals' small vector expressions are new: simplify them like the rest of the graph
    return CANONICALIZE.run(list(inputs), clone_replace(list(outputs), replace))
