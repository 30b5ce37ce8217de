"""The graph language: Type, Variable, Constant, SharedVariable, Apply, the Op protocol, the op
registry and FunctionGraph.

Nodes are immutable: an Apply's op and inputs never change after construction, so graphs can be
shared, hashed and rewritten by rebuilding.  `graph` never imports `ops`: a Variable's Python
operators call builder functions that the op modules register here by name.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ccgrad import dtypes

# ---------------------------------------------------------------------------------------------
# The op registry: name -> builder.  Op modules fill it at import time.

_REGISTRY: dict[str, Callable[..., Any]] = {}


def register(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: make `fn` the builder that Variable methods reach under `name`."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"op builder {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn

    return deco


def builder(name: str) -> Callable[..., Any]:
    """The builder registered under `name` (importing the op set on first use)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        import ccgrad.ops  # noqa: F401  (registers every builder)

        return _REGISTRY[name]


def registered_names() -> list[str]:
    return sorted(_REGISTRY)


# ---------------------------------------------------------------------------------------------
# Types


class TensorType:
    """dtype plus static shape: each dim an int when known (1 means broadcastable) or None."""

    __slots__ = ("_hash", "dtype", "shape")

    def __init__(self, dtype: str, broadcastable: Sequence[bool] | None = None, shape=None):
        self.dtype = dtypes.canonical(dtype)
        if shape is None:
            if broadcastable is None:
                raise TypeError("TensorType needs broadcastable= or shape=")
            shape = tuple(1 if b else None for b in broadcastable)
        else:
            shape = tuple(None if s is None else int(s) for s in shape)
            if broadcastable is not None and tuple(bool(b) for b in broadcastable) != tuple(
                s == 1 for s in shape
            ):
                raise ValueError(f"broadcastable={broadcastable} disagrees with shape={shape}")
            for s in shape:
                if s is not None and s < 0:
                    raise ValueError(f"static shape entries must be >= 0, got {shape}")
        self.shape: tuple[int | None, ...] = shape
        self._hash = hash((self.dtype, self.shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return tuple(s == 1 for s in self.shape)

    def __eq__(self, other) -> bool:
        return (
            type(other) is TensorType and self.dtype == other.dtype and self.shape == other.shape
        )

    def __hash__(self) -> int:
        return self._hash

    def __call__(self, name: str | None = None) -> Variable:
        """Theano's `TensorType(...)('x')`: a fresh input Variable of this type."""
        return Variable(self, name=name)

    def clone(self, dtype: str | None = None, shape=None) -> TensorType:
        return TensorType(dtype or self.dtype, shape=self.shape if shape is None else shape)

    def is_super(self, other: TensorType) -> bool:
        """True when every value of `other` is a value of self (same dtype/ndim, looser shape)."""
        return (
            self.dtype == other.dtype
            and self.ndim == other.ndim
            and all(s is None or s == o for s, o in zip(self.shape, other.shape))
        )

    def __repr__(self) -> str:
        names = {0: "scalar", 1: "vector", 2: "matrix"}
        if all(s is None for s in self.shape) and self.ndim in names:
            return f"TensorType({self.dtype}, {names[self.ndim]})"
        dims = ", ".join("?" if s is None else str(s) for s in self.shape)
        return f"TensorType({self.dtype}, shape=({dims}{',' if self.ndim == 1 else ''}))"

    def filter(self, value, name: str = "input", allow_downcast: bool | None = None) -> np.ndarray:
        """Convert a call argument to an ndarray of this type, or raise naming the argument.

        Safe casts only; Python floats may narrow to float32 (Theano's rule); with
        allow_downcast=True any same-kind cast (e.g. float64 -> float32) is allowed.
        """
        if isinstance(value, Variable):
            raise TypeError(
                f"argument {name!r} is a symbolic Variable; compiled functions take values "
                "(use givens= to substitute one Variable for another)"
            )
        from_python = not isinstance(value, np.ndarray | np.generic)
        try:
            arr = np.asarray(value)
        except Exception as exc:
            raise TypeError(f"argument {name!r}: cannot convert {type(value).__name__} to an array") from exc
        if not arr.dtype.isnative:  # byte-swapped data: compute on (and return) native order
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if arr.dtype.name != self.dtype:
            if arr.dtype == object or arr.dtype.kind not in "biuf":
                raise TypeError(
                    f"argument {name!r}: expected {self.dtype} data, got {arr.dtype} "
                    f"({type(value).__name__})"
                )
            ok = np.can_cast(arr.dtype, self.dtype, "safe")
            if not ok and from_python:
                # Python ints fitting the target and Python floats narrowing to float32 are fine.
                if arr.dtype.kind in "iu" and self.dtype not in ("bool",):
                    conv = arr.astype(self.dtype)
                    ok = bool(np.all(conv == arr))
                elif arr.dtype.kind == "f" and self.dtype == "float32":
                    ok = True
                elif arr.dtype.kind == "b":
                    ok = True
            if not ok and allow_downcast:
                ok = np.can_cast(arr.dtype, self.dtype, "same_kind") or arr.dtype.kind in "biu"
            if not ok:
                raise TypeError(
                    f"argument {name!r}: expected {self.dtype}, got {arr.dtype}; casting would "
                    "lose information (pass allow_input_downcast=True to function() to allow it)"
                )
            arr = arr.astype(self.dtype)
        if arr.ndim != self.ndim:
            raise TypeError(
                f"argument {name!r}: expected {self.ndim}-d {self.dtype} array, got {arr.ndim}-d "
                f"array of shape {arr.shape}"
            )
        for axis, (want, got) in enumerate(zip(self.shape, arr.shape)):
            if want is not None and want != got:
                raise ValueError(
                    f"argument {name!r}: axis {axis} must have length {want} (its static shape is "
                    f"{self.shape}), got shape {arr.shape}"
                )
        return arr


# ---------------------------------------------------------------------------------------------
# Variables


class Variable:
    """A symbolic value: an input (owner None), a Constant, or output `index` of `owner`.

    `==` is identity (as in Theano), so Variables work as dict keys; elementwise equality is
    `T.eq`.  The Python operators build graph nodes through the op registry.
    """

    __slots__ = ("__weakref__", "index", "name", "owner", "type")
    __array_priority__ = 1000  # numpy array on the left defers to our reflected operators

    def __init__(self, type: TensorType, owner: Apply | None = None, index: int | None = None,
                 name: str | None = None):
        if not isinstance(type, TensorType):
            raise TypeError(f"Variable type must be a TensorType, got {type!r}")
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name

    # -- static facts
    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    @property
    def shape(self) -> Variable:
        """The symbolic shape vector (int64), as in Theano."""
        return builder("shape")(self)

    @property
    def size(self) -> Variable:
        return builder("prod")(builder("shape")(self))

    @property
    def T(self) -> Variable:
        return builder("transpose")(self)

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = self.owner.op
            if len(self.owner.outputs) == 1:
                return f"{op}.out"
            return f"{op}.{self.index}"
        return f"<{self.type!r}>"

    def __bool__(self) -> bool:
        raise TypeError(
            "a symbolic Variable has no truth value; use T.switch / T.and_ / T.or_ for symbolic "
            "conditions and `is` to compare Variables"
        )

    def __len__(self) -> int:
        raise TypeError("a symbolic Variable has no len(); use x.shape[0]")

    def __iter__(self):
        raise TypeError("a symbolic Variable is not iterable; index it with x[i]")

    def __index__(self):
        raise TypeError("a symbolic Variable cannot be used as a Python integer")

    # -- arithmetic
    def __add__(self, o): return builder("add")(self, o)
    def __radd__(self, o): return builder("add")(o, self)
    def __sub__(self, o): return builder("sub")(self, o)
    def __rsub__(self, o): return builder("sub")(o, self)
    def __mul__(self, o): return builder("mul")(self, o)
    def __rmul__(self, o): return builder("mul")(o, self)
    def __truediv__(self, o): return builder("true_div")(self, o)
    def __rtruediv__(self, o): return builder("true_div")(o, self)
    def __floordiv__(self, o): return builder("int_div")(self, o)
    def __rfloordiv__(self, o): return builder("int_div")(o, self)
    def __mod__(self, o): return builder("mod")(self, o)
    def __rmod__(self, o): return builder("mod")(o, self)
    def __pow__(self, o): return builder("pow")(self, o)
    def __rpow__(self, o): return builder("pow")(o, self)
    def __neg__(self): return builder("neg")(self)
    def __pos__(self): return self
    def __abs__(self): return builder("abs")(self)
    def __lt__(self, o): return builder("lt")(self, o)
    def __le__(self, o): return builder("le")(self, o)
    def __gt__(self, o): return builder("gt")(self, o)
    def __ge__(self, o): return builder("ge")(self, o)
    def __and__(self, o): return builder("and_")(self, o)
    def __rand__(self, o): return builder("and_")(o, self)
    def __or__(self, o): return builder("or_")(self, o)
    def __ror__(self, o): return builder("or_")(o, self)
    def __xor__(self, o): return builder("xor")(self, o)
    def __rxor__(self, o): return builder("xor")(o, self)
    def __invert__(self): return builder("invert")(self)
    def __matmul__(self, o): return builder("matmul")(self, o)
    def __rmatmul__(self, o): return builder("matmul")(o, self)
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    # -- structure
    def __getitem__(self, index): return builder("getitem")(self, index)

    def dimshuffle(self, *pattern) -> Variable:
        if len(pattern) == 1 and isinstance(pattern[0], list | tuple):
            pattern = tuple(pattern[0])
        return builder("dimshuffle")(self, pattern)

    def reshape(self, shape, ndim: int | None = None) -> Variable:
        return builder("reshape")(self, shape, ndim=ndim)

    def flatten(self, ndim: int = 1) -> Variable:
        return builder("flatten")(self, ndim)

    def transpose(self, *axes) -> Variable:
        if len(axes) == 1 and isinstance(axes[0], list | tuple):
            axes = tuple(axes[0])
        return builder("transpose")(self, axes or None)

    def astype(self, dtype) -> Variable:
        return builder("cast")(self, dtype)

    def dot(self, other) -> Variable:
        return builder("dot")(self, other)

    def sum(self, axis=None, keepdims=False, dtype=None): return builder("sum")(self, axis=axis, keepdims=keepdims, dtype=dtype)  # noqa: E501
    def prod(self, axis=None, keepdims=False, dtype=None): return builder("prod")(self, axis=axis, keepdims=keepdims, dtype=dtype)  # noqa: E501
    def mean(self, axis=None, keepdims=False, dtype=None): return builder("mean")(self, axis=axis, keepdims=keepdims, dtype=dtype)  # noqa: E501
    def max(self, axis=None, keepdims=False): return builder("max")(self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return builder("min")(self, axis=axis, keepdims=keepdims)
    def argmax(self, axis=None, keepdims=False): return builder("argmax")(self, axis=axis, keepdims=keepdims)
    def argmin(self, axis=None, keepdims=False): return builder("argmin")(self, axis=axis, keepdims=keepdims)
    def var(self, axis=None, keepdims=False, ddof=0): return builder("var")(self, axis=axis, keepdims=keepdims, ddof=ddof)  # noqa: E501
    def std(self, axis=None, keepdims=False, ddof=0): return builder("std")(self, axis=axis, keepdims=keepdims, ddof=ddof)  # noqa: E501
    def all(self, axis=None, keepdims=False): return builder("all")(self, axis=axis, keepdims=keepdims)
    def any(self, axis=None, keepdims=False): return builder("any")(self, axis=axis, keepdims=keepdims)
    def clip(self, a_min, a_max): return builder("clip")(self, a_min, a_max)
    def zeros_like(self, dtype=None): return builder("zeros_like")(self, dtype=dtype)
    def ones_like(self, dtype=None): return builder("ones_like")(self, dtype=dtype)
    def nonzero_values(self): raise NotImplementedError("nonzero_values is not supported")
    def copy(self, name: str | None = None) -> Variable:
        out = builder("identity")(self)
        out.name = name
        return out

    def squeeze(self) -> Variable:
        keep = [i for i, b in enumerate(self.broadcastable) if not b]
        return self.dimshuffle(*keep)

    def clone(self) -> Variable:
        """A new leaf of the same type (Theano's clone of an input)."""
        if self.owner is not None:
            raise ValueError("clone() is for leaf variables; use FunctionGraph.clone for graphs")
        return type(self)(self.type, name=self.name) if type(self) is Variable else self

    def eval(self, inputs_to_values: dict | None = None):
        """Evaluate with the reference evaluator (Theano's Variable.eval)."""
        from ccgrad.evaluate import evaluate

        inputs_to_values = inputs_to_values or {}
        return evaluate([self], inputs_to_values)[0]


class Constant(Variable):
    """A Variable with a fixed value.  `weak` marks constants made from Python scalars: their
    dtype adapts to the other operands of an elementwise op (NEP 50 style)."""

    __slots__ = ("_sig", "data", "weak")

    def __init__(self, type: TensorType, data, name: str | None = None, weak: bool = False):
        super().__init__(type, None, None, name)
        arr = np.array(data, dtype=type.dtype)
        if arr.ndim != type.ndim:
            raise ValueError(f"constant of ndim {arr.ndim} for type {type!r}")
        arr.setflags(write=False)
        self.data = arr
        self.weak = weak
        self._sig = None

    def signature(self) -> tuple:
        """Hashable identity of the value: equal signatures mean interchangeable constants."""
        if self._sig is None:
            self._sig = (self.type, self.data.shape, self.data.tobytes(), self.weak)
        return self._sig

    def value_str(self) -> str:
        d = self.data
        if d.size == 1 and d.ndim and all(s == 1 for s in d.shape):
            d = d.reshape(())  # a folded broadcast constant prints as its value: 1.0, not [[1.]]
        if d.ndim == 0:
            v = d.item()
            if isinstance(v, bool):
                return str(v)
            if isinstance(v, float):
                if d.dtype == np.float32:
                    return str(np.float32(v))  # shortest float32 form: 0.1, not 0.10000000149
                return repr(v)
            return str(v)
        if d.size <= 8:
            return np.array2string(d, separator=", ").replace("\n", "")
        return f"TensorConstant{{{d.dtype}, shape={d.shape}}}"

    def __str__(self) -> str:
        return self.name if self.name is not None else self.value_str()


class SharedVariable(Variable):
    """A Variable with a persistent value that compiled functions read and may update."""

    __slots__ = ("container", "default_update")

    def __init__(self, type: TensorType, value: np.ndarray, name: str | None = None):
        super().__init__(type, None, None, name)
        self.container = [value]
        self.default_update = None

    def get_value(self, borrow: bool = False) -> np.ndarray:
        v = self.container[0]
        return v if borrow else v.copy()

    def set_value(self, value, borrow: bool = False) -> None:
        arr = self.type.filter(value, name=self.name or "shared value", allow_downcast=True)
        if not borrow or arr is value:
            arr = np.array(arr, copy=not borrow or arr is not value, order="C")
        self.container[0] = arr

    @property
    def value(self) -> np.ndarray:
        return self.container[0]

    def __str__(self) -> str:
        return self.name if self.name is not None else f"<shared {self.type!r}>"


def as_variable(x, name: str | None = None, dtype: str | None = None) -> Variable:
    """Turn a Variable, numpy array or Python scalar/list into a Variable.

    Python scalars become *weak* constants: ints take the smallest int dtype holding them and
    floats float64, and elementwise ops then adapt them to the other operands.
    """
    if isinstance(x, Variable):
        if dtype is not None and x.dtype != dtypes.canonical(dtype):
            return builder("cast")(x, dtype)
        return x
    if isinstance(x, bool | np.bool_) and dtype is None:
        return Constant(TensorType("bool", shape=()), bool(x), name=name, weak=True)
    if isinstance(x, int) and not isinstance(x, bool) and dtype is None:
        return Constant(TensorType(dtypes.smallest_int_dtype(x), shape=()), x, name=name, weak=True)
    if isinstance(x, float) and not isinstance(x, np.generic) and dtype is None:
        return Constant(TensorType("float64", shape=()), x, name=name, weak=True)
    if isinstance(x, list | tuple) and any(isinstance(e, Variable) for e in _flatten(x)):
        return builder("stack")(list(x))
    arr = np.asarray(x)
    if dtype is not None:
        arr = arr.astype(dtypes.canonical(dtype))
    elif arr.dtype.kind == "i" and not isinstance(x, np.ndarray | np.generic):
        # A Python list of ints: int64 as numpy would, unless every value fits a smaller type.
        arr = arr.astype("int64")
    elif arr.dtype.kind not in "biuf":
        raise TypeError(f"cannot make a constant from {type(x).__name__} of dtype {arr.dtype}")
    name_dtype = arr.dtype.name
    if name_dtype not in dtypes.C_TYPES:
        if arr.dtype.kind == "u":
            arr = arr.astype("int64")
        elif arr.dtype.kind == "f":
            arr = arr.astype("float64")
        else:
            raise TypeError(f"unsupported constant dtype {arr.dtype}")
    return Constant(TensorType(arr.dtype.name, shape=arr.shape), arr, name=name)


def _flatten(x) -> Iterable:
    for e in x:
        if isinstance(e, list | tuple):
            yield from _flatten(e)
        else:
            yield e


# ---------------------------------------------------------------------------------------------
# Apply and Op


class Apply:
    """One application of an op to input Variables, producing output Variables."""

    __slots__ = ("inputs", "op", "outputs")

    def __init__(self, op: Op, inputs: Sequence[Variable], output_types: Sequence[TensorType]):
        for i, v in enumerate(inputs):
            if not isinstance(v, Variable):
                raise TypeError(f"{op}: input {i} is {type(v).__name__}, not a Variable")
        self.op = op
        self.inputs: tuple[Variable, ...] = tuple(inputs)
        self.outputs: tuple[Variable, ...] = tuple(
            Variable(t, owner=self, index=i) for i, t in enumerate(output_types)
        )

    @property
    def out(self) -> Variable:
        if len(self.outputs) != 1:
            raise ValueError(f"{self.op} has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    @property
    def nin(self) -> int:
        return len(self.inputs)

    @property
    def nout(self) -> int:
        return len(self.outputs)

    def __repr__(self) -> str:
        return f"Apply({self.op}, [{', '.join(map(str, self.inputs))}])"


class Op:
    """The op protocol.  A subclass keeps all of one op's facts together:

    - `make_node(*inputs)`: type/shape rule; returns an Apply (raise TypeError/ValueError naming
      the op, the operand and the shapes on bad input);
    - `perform(node, inputs)`: numpy reference; returns a list of arrays, one per output;
    - `infer_shape(node, input_shapes)`: symbolic output shapes (tuples of int64 scalars);
    - `vjp(node, cotangents)`: reverse rule; cotangents[i] is a Variable or None (zero); returns
      one entry per input: a Variable, None (zero gradient) or `UNDEFINED`;
    - `jvp(node, tangents)`: forward rule, tangents as for vjp, one result per output;
    - `batch(node, inputs, batched)`: the op applied with an extra leading batch axis on the
      inputs flagged in `batched`; returns (outputs, out_batched): the new outputs and, for
      each, whether it carries the batch axis;
    - `c_code(ctx, node, ins)`: C emission (see ccgrad.lower);
    - `connection_pattern(node)`: [input][output] booleans; False means disconnected.

    Ops compare equal when their class and `__props__` values are equal.
    """

    __props__: tuple[str, ...] = ()

    def _props(self) -> tuple:
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._props() == other._props()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._props()))

    def __str__(self) -> str:
        name = type(self).__name__
        if self.__props__:
            return f"{name}{{{', '.join(str(p) for p in self._props())}}}"
        return name

    __repr__ = __str__

    def make_node(self, *inputs) -> Apply:
        raise NotImplementedError

    def __call__(self, *inputs):
        node = self.make_node(*inputs)
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError(f"{self} has no numpy reference")

    def infer_shape(self, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        raise NotImplementedError(f"{self} has no infer_shape")

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True] * len(node.outputs) for _ in node.inputs]

    def vjp(self, node: Apply, cotangents: list) -> list:
        raise NotImplementedError(f"{self} has no vjp rule")

    def jvp(self, node: Apply, tangents: list) -> list:
        raise NotImplementedError(f"{self} has no jvp rule")

    def batch(self, node: Apply, inputs: list[Variable], batched: list[bool]
              ) -> tuple[list[Variable], list[bool]]:
        raise NotImplementedError(f"{self} has no batch rule")

    def pp(self, node: Apply, args: list[str]) -> str:
        """Theano-style infix/functional printing of one application."""
        name = getattr(self, "pp_name", None) or type(self).__name__.lower()
        return f"{name}({', '.join(args)})"


class _Undefined:
    """A gradient that does not exist (Theano's NullType): grad raises on it by default."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"UNDEFINED({self.reason})"


def undefined(reason: str) -> _Undefined:
    return _Undefined(reason)


def is_undefined(x) -> bool:
    return isinstance(x, _Undefined)


# ---------------------------------------------------------------------------------------------
# Traversal


def toposort(outputs: Sequence[Variable], stop: Iterable[Variable] = ()) -> list[Apply]:
    """Apply nodes that `outputs` depend on, inputs before users; deterministic (input order).

    Traversal does not pass through variables in `stop`.
    """
    stop_ids = {id(v) for v in stop}
    order: list[Apply] = []
    seen: set[int] = set()
    for out in outputs:
        if out.owner is None or id(out) in stop_ids or id(out.owner) in seen:
            continue
        # Iterative DFS: (node, next input position).
        stack: list[list] = [[out.owner, 0]]
        seen.add(id(out.owner))
        while stack:
            frame = stack[-1]
            node, pos = frame
            if pos < len(node.inputs):
                frame[1] += 1
                v = node.inputs[pos]
                o = v.owner
                if o is not None and id(v) not in stop_ids and id(o) not in seen:
                    seen.add(id(o))
                    stack.append([o, 0])
            else:
                stack.pop()
                order.append(node)
    return order


def ancestors(outputs: Sequence[Variable], stop: Iterable[Variable] = ()) -> list[Variable]:
    """Every variable `outputs` depend on (leaves and intermediates), deterministic order."""
    stop_ids = {id(v) for v in stop}
    out: list[Variable] = []
    seen: set[int] = set()

    def add(v: Variable) -> None:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)

    for node in toposort(outputs, stop):
        for v in node.inputs:
            add(v)
        for v in node.outputs:
            add(v)
    for v in outputs:
        add(v)
    _ = stop_ids
    return out


def graph_inputs(outputs: Sequence[Variable], stop: Iterable[Variable] = ()) -> list[Variable]:
    """Leaves (non-Constant variables without owner, or stopped ones) in deterministic order."""
    stop_ids = {id(v) for v in stop}
    res: list[Variable] = []
    seen: set[int] = set()
    for v in ancestors(outputs, stop):
        if (v.owner is None or id(v) in stop_ids) and not isinstance(v, Constant):
            if id(v) not in seen:
                seen.add(id(v))
                res.append(v)
    return res


def clone_replace(outputs: Sequence[Variable], replace: dict[Variable, Variable],
                  rebuild: Callable[[Apply, list[Variable]], list[Variable]] | None = None,
                  ) -> list[Variable]:
    """Rebuild `outputs` with variables substituted per `replace` (nodes are rebuilt through
    their ops, so type rules run again).  Untouched subgraphs are shared, not copied."""
    memo: dict[int, Variable] = {id(k): v for k, v in replace.items()}
    for node in toposort(outputs, stop=replace.keys()):
        new_inputs = [memo.get(id(v), v) for v in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        if rebuild is not None:
            new_outs = rebuild(node, new_inputs)
        else:
            new_outs = node.op.make_node(*new_inputs).outputs
        for old, new in zip(node.outputs, new_outs):
            memo[id(old)] = new
    return [memo.get(id(v), v) for v in outputs]


class FunctionGraph:
    """A frozen view of the graph between `inputs` and `outputs`: toposort, clients, variables.

    Since nodes are immutable, a FunctionGraph never copies them; `replace` returns a new one.
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable]):
        self.inputs: list[Variable] = list(inputs)
        self.outputs: list[Variable] = list(outputs)
        self._order: list[Apply] | None = None
        self._clients: dict[Variable, list[tuple[Apply | str, int]]] | None = None

    def toposort(self) -> list[Apply]:
        if self._order is None:
            self._order = toposort(self.outputs, stop=self.inputs)
        return self._order

    @property
    def apply_nodes(self) -> list[Apply]:
        return list(self.toposort())

    @property
    def variables(self) -> list[Variable]:
        seen: dict[int, Variable] = {id(v): v for v in self.inputs}
        for node in self.toposort():
            for v in itertools.chain(node.inputs, node.outputs):
                seen.setdefault(id(v), v)
        for v in self.outputs:
            seen.setdefault(id(v), v)
        return list(seen.values())

    @property
    def clients(self) -> dict[Variable, list[tuple[Apply | str, int]]]:
        """variable -> [(node, input position)], with ('output', i) for graph outputs."""
        if self._clients is None:
            cl: dict[Variable, list] = {}
            for node in self.toposort():
                for i, v in enumerate(node.inputs):
                    cl.setdefault(v, []).append((node, i))
            for i, v in enumerate(self.outputs):
                cl.setdefault(v, []).append(("output", i))
            self._clients = cl
        return self._clients

    def replace(self, replacements: dict[Variable, Variable]) -> FunctionGraph:
        return FunctionGraph(self.inputs, clone_replace(self.outputs, replacements))

    def clone(self) -> FunctionGraph:
        """A FunctionGraph with fresh input variables and rebuilt nodes."""
        new_inputs = [type(v)(v.type, name=v.name) if type(v) is Variable else v for v in self.inputs]
        outs = clone_replace(self.outputs, dict(zip(self.inputs, new_inputs)))
        return FunctionGraph(new_inputs, outs)

    def __repr__(self) -> str:
        return f"FunctionGraph({len(self.inputs)} inputs, {len(self.toposort())} nodes, {len(self.outputs)} outputs)"
