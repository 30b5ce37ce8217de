"""Array builders composed from other ops (no op class here): tile, repeat, zeros, ones, built
from alloc, reshape and indexing, so their gradients, batch rules and C come from those ops."""

from __future__ import annotations

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Constant, TensorType, Variable, as_variable, builder, register
from ccgrad.ops.reshape import reshape
from ccgrad.ops.shape import alloc, dimshuffle, shape_list
from ccgrad.ops.subtensor import getitem
from ccgrad.ops.symint import int_scalar, shape_entries, sym_mul
from ccgrad.options import config


def _reps_list(reps, what: str) -> list:
    if isinstance(reps, Variable) and reps.ndim == 1 and not isinstance(reps, Constant) and reps.type.shape[0] is None:
        raise NotImplementedError(f"{what}: a symbolic vector of unknown length is not supported")
    return shape_entries(reps, what)


@register("tile")
def tile(x, reps, ndim: int | None = None) -> Variable:
    """numpy's tile: x repeated reps[i] times along axis i (reps ints or int scalars)."""
    x = as_variable(x)
    reps = _reps_list(reps, "tile")
    for r in reps:
        if isinstance(r, int) and r < 0:
            raise ValueError(f"tile: negative repetition count in {reps}")
    d = max(x.ndim, len(reps), ndim or 0)
    reps = [1] * (d - len(reps)) + list(reps)
    x = dimshuffle(x, ("x",) * (d - x.ndim) + tuple(range(x.ndim)))
    dims = shape_list(x)
    pattern: list = []
    target: list = []
    for i in range(d):
        pattern += ["x", i]
        target += [reps[i], dims[i]]
    y = alloc(dimshuffle(x, tuple(pattern)), *target)
    return reshape(y, [sym_mul(r, n) for r, n in zip(reps, dims)])


@register("repeat")
def repeat(x, repeats, axis: int | None = None) -> Variable:
    """numpy's repeat: each element repeated `repeats` times along `axis` (the flattened x
    when None).  `repeats` is an int, an int scalar, or a constant list of counts."""
    x = as_variable(x)
    if axis is None:
        x = builder("flatten")(x)
        axis = 0
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"repeat: axis {axis} out of range for a {x.ndim}-d input")
    axis %= x.ndim
    dims = shape_list(x)
    if isinstance(repeats, Variable) and repeats.ndim == 1 and isinstance(repeats, Constant):
        repeats = repeats.data.tolist()
    if isinstance(repeats, list | tuple | np.ndarray):
        counts = [int(c) for c in np.asarray(repeats).reshape(-1)]
        if len(counts) != 1:
            if any(c < 0 for c in counts):
                raise ValueError(f"repeat: negative count in {counts}")
            # Pin the axis length to len(counts) (checked at run time by the reshape).
            x = reshape(x, dims[:axis] + [len(counts)] + dims[axis + 1:])
            idx = np.repeat(np.arange(len(counts)), counts).astype("int64")
            return getitem(x, (slice(None),) * axis + (Constant(TensorType("int64", shape=idx.shape), idx),))
        repeats = counts[0]
    if isinstance(repeats, Variable):
        if repeats.ndim != 0:
            raise NotImplementedError("repeat: symbolic per-element counts are not supported")
        repeats = int_scalar(repeats, "repeat: repeats")
    elif int(repeats) < 0:
        raise ValueError(f"repeat: negative count {repeats}")
    order = tuple(range(axis + 1)) + ("x",) + tuple(range(axis + 1, x.ndim))
    y = alloc(dimshuffle(x, order), *dims[:axis + 1], repeats, *dims[axis + 1:])
    return reshape(y, dims[:axis] + [sym_mul(dims[axis], repeats)] + dims[axis + 1:])


def _filled(value: float, shape, dtype, what: str) -> Variable:
    dt = dtypes.canonical(dtype or config.floatX)
    return alloc(Constant(TensorType(dt, shape=()), value), *shape_entries(shape, what))


@register("zeros")
def zeros(shape, dtype=None) -> Variable:
    """A tensor of zeros (dtype defaults to config.floatX); shape as for reshape."""
    return _filled(0, shape, dtype, "zeros")


@register("ones")
def ones(shape, dtype=None) -> Variable:
    """A tensor of ones (dtype defaults to config.floatX); shape as for reshape."""
    return _filled(1, shape, dtype, "ones")
