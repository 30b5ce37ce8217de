"""Shared variables: `shared()` (Theano's constructor rules), `TensorSharedVariable` (the
SharedVariable it returns: checked `set_value` honouring `strict` / `allow_downcast`), default
updates, and pickling of shared variables with their values.

Type rule (Theano's): the type is fixed by the initial value.  Its dtype is the value's dtype
(a Python float is float64 and a Python int int64 whatever `config.floatX` says, as in Theano's
scalar constructor), its ndim the value's ndim, and no dimension is broadcastable unless
`broadcastable=` says so, because the value may later be replaced by one of another shape.

Aliasing: `shared(v, borrow=True)`, `set_value(v, borrow=True)` and `get_value(borrow=True)`
may share memory with the caller's array.  Compiled C functions compute updates *in place* where
the graph allows, so such an alias sees every update (and writing into it changes the variable).
"""

from __future__ import annotations

import copyreg
from collections.abc import Iterable, Sequence

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import SharedVariable, TensorType, Variable

__all__ = ["TensorSharedVariable", "collect_default_updates", "shared"]


class TensorSharedVariable(SharedVariable):
    """A shared tensor: a Variable with a persistent value that compiled functions read and may
    update.  `strict=True` makes `set_value` accept only ndarrays of exactly the variable's
    dtype; `allow_downcast=True` lets it cast with precision loss (float64 -> float32)."""

    __slots__ = ("allow_downcast", "strict")

    def __init__(self, type: TensorType, value: np.ndarray, name: str | None = None,
                 strict: bool = False, allow_downcast: bool | None = None):
        super().__init__(type, value, name)
        self.strict = bool(strict)
        self.allow_downcast = allow_downcast

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> np.ndarray:
        """The current value: a copy, or with borrow=True the variable's own array (which later
        in-place updates overwrite)."""
        v = self.container[0]
        return v if borrow or return_internal_type else v.copy()

    def set_value(self, value, borrow: bool = False) -> None:
        """Replace the value.  It must have the variable's ndim (and length 1 on broadcastable
        axes); dtypes convert by safe casts only, unless the variable allows downcasts.
        borrow=True may keep `value` itself (no copy) when it already fits."""
        self.container[0] = filter_value(self, value, borrow=borrow, strict=self.strict,
                                         allow_downcast=self.allow_downcast)

    def __reduce__(self):
        return _reduce_shared(self)


# ---------------------------------------------------------------------------------------------
# The constructor


def shared(value, name: str | None = None, borrow: bool = False, strict: bool = False,
           allow_downcast: bool | None = None, broadcastable: Sequence[bool] | None = None,
           ) -> TensorSharedVariable:
    """A shared variable holding `value` (Theano's theano.shared).

    The dtype and ndim come from `value`: numpy arrays and scalars keep their dtype, Python
    floats are float64, Python ints int64, Python bools bool, lists convert as numpy does.
    `borrow=False` copies the value; `borrow=True` keeps the array itself when it is a native,
    aligned ndarray of a supported dtype (later updates then write into it).  `broadcastable`
    (one bool per dimension, True only where the value has length 1) marks dimensions that
    broadcast in expressions; by default none does.
    """
    if isinstance(value, Variable):
        raise TypeError(
            f"shared(): got the symbolic Variable {value}; shared() takes a value (a numpy array "
            "or a Python number). To use an expression, build it from the shared variable instead"
        )
    label = f"shared({name!r})" if name else "shared()"
    arr = _initial_array(value, label)
    if broadcastable is None:
        broadcastable = (False,) * arr.ndim
    broadcastable = tuple(bool(b) for b in broadcastable)
    if len(broadcastable) != arr.ndim:
        raise ValueError(
            f"{label}: broadcastable={broadcastable} has {len(broadcastable)} entries for a "
            f"{arr.ndim}-d value of shape {arr.shape}"
        )
    for axis, (b, n) in enumerate(zip(broadcastable, arr.shape)):
        if b and n != 1:
            raise ValueError(
                f"{label}: axis {axis} is marked broadcastable but the value has length {n} "
                f"there (shape {arr.shape}); only length-1 dimensions can broadcast"
            )
    ttype = TensorType(arr.dtype.name, broadcastable=broadcastable)
    if not borrow and (not arr.flags.c_contiguous or np.may_share_memory(arr, value)):
        arr = np.array(arr, order="C", copy=True)
    return TensorSharedVariable(ttype, arr, name=name, strict=strict, allow_downcast=allow_downcast)


def _initial_array(value, label: str) -> np.ndarray:
    """The initial value as an ndarray of a supported dtype (no copy when already one)."""
    if isinstance(value, bool):
        return np.array(value, dtype="bool")
    if isinstance(value, int):
        try:
            return np.array(value, dtype="int64")
        except OverflowError:
            raise TypeError(f"{label}: the Python int {value} does not fit in int64") from None
    if isinstance(value, float):
        return np.array(value, dtype="float64")
    try:
        arr = np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{label}: cannot make an array of {type(value).__name__}") from exc
    if not isinstance(value, np.ndarray | np.generic) and arr.dtype.kind == "i":
        arr = arr.astype("int64")  # a Python list of ints: int64 on every platform
    if arr.dtype.name not in dtypes.SUPPORTED:
        raise TypeError(
            f"{label}: values of dtype {arr.dtype} are not supported (supported: "
            f"{', '.join(dtypes.SUPPORTED)}); convert the value first, e.g. value.astype('float64')"
        )
    if not arr.dtype.isnative or not arr.flags.aligned:
        arr = np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C")
    return arr


# ---------------------------------------------------------------------------------------------
# set_value's conversion rule


def _label(var: SharedVariable) -> str:
    return f"shared variable {var.name!r}" if var.name else f"shared variable of type {var.type!r}"


def filter_value(var: SharedVariable, value, borrow: bool = False, strict: bool = False,
                 allow_downcast: bool | None = None) -> np.ndarray:
    """`value` as the array to store in `var`, or TypeError/ValueError naming the variable.

    strict: only an ndarray of exactly var's dtype.  Otherwise safe casts (int32 -> float64),
    Python ints that fit, Python floats into float32 (unless allow_downcast is False), and with
    allow_downcast=True any cast within a kind or from integers (float64 -> float32).
    """
    t = var.type
    what = _label(var)
    if isinstance(value, Variable):
        raise TypeError(f"{what}: set_value got the symbolic Variable {value}; it takes a value")
    want = np.dtype(t.dtype)
    fresh = False  # True when `arr` is memory nobody else holds
    if strict:
        if not isinstance(value, np.ndarray) or value.dtype != want:
            got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise TypeError(f"{what} is strict: set_value needs an ndarray of dtype {t.dtype}, got {got}")
        arr = value
    else:
        from_python = not isinstance(value, np.ndarray | np.generic)
        try:
            arr = np.asarray(value)
        except Exception as exc:
            raise TypeError(f"{what}: set_value cannot convert {type(value).__name__} to an array") from exc
        fresh = from_python
        if arr.dtype != want:
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"{what} holds {t.dtype} values; set_value got {arr.dtype} data")
            if not _castable(arr, want, from_python, allow_downcast):
                hint = ("create it with allow_downcast=True to allow this" if allow_downcast is None
                        else "cast the value first")
                raise TypeError(
                    f"{what} holds {t.dtype} values; set_value got {arr.dtype} data and casting "
                    f"would lose information ({hint})"
                )
            arr = arr.astype(want)
            fresh = True
    if arr.ndim != t.ndim:
        raise TypeError(
            f"{what} is {t.ndim}-d ({t!r}); set_value got a {arr.ndim}-d value of shape {arr.shape}"
        )
    for axis, (s, n) in enumerate(zip(t.shape, arr.shape)):
        if s is not None and s != n:
            raise ValueError(
                f"{what} has static length {s} on axis {axis} ({t!r}); set_value got shape {arr.shape}"
            )
    if not arr.flags.aligned:
        arr, fresh = np.array(arr, order="C"), True
    if not borrow and (not fresh or not arr.flags.c_contiguous):
        arr = np.array(arr, order="C", copy=True)
    return arr


def _castable(arr: np.ndarray, want: np.dtype, from_python: bool, allow_downcast: bool | None) -> bool:
    if np.can_cast(arr.dtype, want, "safe"):
        return True
    if from_python and arr.dtype.kind in "iu" and want.kind in "iuf":
        with np.errstate(all="ignore"):
            return bool(np.all(arr.astype(want) == arr))
    if from_python and arr.dtype.kind == "f" and want == np.float32 and allow_downcast is not False:
        return True
    if allow_downcast:
        return np.can_cast(arr.dtype, want, "same_kind") or arr.dtype.kind in "biu"
    return False


# ---------------------------------------------------------------------------------------------
# Default updates (Theano's SharedVariable.default_update)


def collect_default_updates(shared_vars: Iterable[SharedVariable], updated: Iterable[SharedVariable],
                            no_default_updates: bool | Sequence[SharedVariable]) -> list[SharedVariable]:
    """The shared variables among `shared_vars` whose `default_update` function() adds: those
    not already `updated` and not excluded by `no_default_updates` (True: none; a list: those)."""
    if no_default_updates is True:
        return []
    skip = {id(v) for v in updated}
    if no_default_updates:
        skip.update(id(v) for v in no_default_updates)
    out = []
    for v in shared_vars:
        if getattr(v, "default_update", None) is not None and id(v) not in skip:
            skip.add(id(v))
            out.append(v)
    return out


# ---------------------------------------------------------------------------------------------
# Pickling: the value array travels with the variable; a default update as a serialized graph.


def _reduce_shared(var: SharedVariable):
    extra = {}
    if isinstance(var, TensorSharedVariable):
        extra = {"strict": var.strict, "allow_downcast": var.allow_downcast}
    args = (type(var), var.type.dtype, tuple(var.type.shape), var.name, var.container[0], extra)
    state = None
    if var.default_update is not None:
        from ccgrad.serialize import dumps_graph

        table: list[SharedVariable] = []
        text = dumps_graph([], [var.default_update], shared_table=table)
        state = (text, table)
    if state is None:
        return (_rebuild_shared, args)
    # state_setter: the default update may refer to the variable itself (pickle's memo handles
    # the cycle because the state is set after the variable exists).
    return (_rebuild_shared, args, state, None, None, _set_default_update)


def _rebuild_shared(cls, dtype: str, shape: tuple, name: str | None, value, extra: dict) -> SharedVariable:
    if not (isinstance(cls, type) and issubclass(cls, SharedVariable)):
        raise TypeError(f"unpickling a shared variable: {cls!r} is not a SharedVariable class")
    ttype = TensorType(dtype, shape=shape)
    arr = np.asarray(value)
    if arr.dtype != np.dtype(ttype.dtype) or arr.ndim != ttype.ndim:
        raise TypeError(f"unpickling shared variable {name!r}: value {arr.dtype}{arr.shape} does not fit {ttype!r}")
    if not arr.flags.writeable or not arr.flags.c_contiguous or not arr.flags.aligned:
        arr = np.array(arr, order="C", copy=True)
    if cls is SharedVariable:
        return SharedVariable(ttype, arr, name=name)
    return cls(ttype, arr, name=name, **extra)


def _set_default_update(var: SharedVariable, state) -> SharedVariable:
    from ccgrad.serialize import loads_graph

    text, table = state
    var.default_update = loads_graph(text, shared_table=table).outputs[0]
    return var


# Plain SharedVariables (made by other modules) pickle the same way.
copyreg.pickle(SharedVariable, _reduce_shared)
