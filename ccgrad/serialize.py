"""The JSON-safe graph serializer: one text format for a function()'s unoptimized graph, used by
pickling (Function.__reduce__), record/replay and cache warming.  No code, no machine code: ops
are stored as their class path and constructor values, constants and shared values as dtype,
shape and base64 data.

Format (one JSON object, compact, keys sorted, so equal graphs give equal text):

    {"format": "ccgrad-graph", "version": 1,
     "ops":     [OP, ...],                 distinct ops, referred to by position
     "graph":   GRAPH,
     "updates": [[leaf id, var id], ...],  shared variable <- new value
     "options": {...}}                     function() options (mode, name, single, borrow, ...)

    GRAPH = {"leaves": [LEAF, ...],        variable ids 0..L-1
             "nodes":  [NODE, ...],        in topological order; their outputs get ids L, L+1, ...
             "inputs": [var id, ...], "outputs": [var id, ...]}
    LEAF  = {"kind": "input", "type": TYPE, "name": str|null}
          | {"kind": "constant", "type": TYPE, "data": DATA, "weak": bool, "name": ...}
          | {"kind": "shared", "type": TYPE, "name": ..., "ref": k}        (k-th of a shared table)
          | {"kind": "shared", "type": TYPE, "name": ..., "class": path, "value": ARRAY|null,
             "strict": bool, "allow_downcast": bool|null}                (self-contained)
    NODE  = {"op": op index, "in": [var id, ...], "out": [TYPE, ...], "names": [...]?}
    TYPE  = [dtype, [static length or null, ...]]
    ARRAY = {"dtype": str, "shape": [...], "data": base64 of the little-endian C-order bytes}
    OP    = {"class": "ccgrad.ops.module.Class", "props": [VALUE, ...]}    built as
              cls.from_props(*props) when the class has it, else cls(*props)
          | {"class": ..., "kwargs": {name: VALUE}}                         built as cls(**kwargs)
    VALUE = null | bool | int | float | str | [VALUE, ...] (a tuple)
          | {"list": [...]} | {"float": "nan"|"inf"|"-inf"} | {"slice": [a, b, c]}
          | {"dtype": name} | {"array": ARRAY} | {"scalar": ARRAY} | {"type": TYPE}
          | {"dict": [[k, v], ...]} | {"frozenset": [...]}
          | {"scalar_op": name, "param": VALUE}        a row of ccgrad.ops.scalar.SCALAR_OPS
                                                      (cast rows through cast_op(param))
          | {"fgraph": GRAPH}                          an inner graph (Scan), same leaf/op tables
          | {"op": op index}                           an op used as a parameter

An op's constructor values are its `serial_props()` when it defines one (paired with
`from_props`), else its `__props__` values, else (when those do not rebuild an equal op) the
values of the attributes named like its `__init__` parameters (how Scan, which holds its inner
FunctionGraph, is stored).  Every op is rebuilt and compared with the original while dumping,
so an op that cannot be stored fails at dump time with an error naming it.

Loading imports only modules under `ccgrad.` and builds only Op / SharedVariable subclasses.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import inspect
import io
import json
import math
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import (
    Apply,
    Constant,
    FunctionGraph,
    Op,
    SharedVariable,
    TensorType,
    Variable,
    toposort,
)

FORMAT = "ccgrad-graph"
VERSION = 1

__all__ = ["FORMAT", "VERSION", "LoadedGraph", "SafeUnpickler", "SerializationError", "dumps_function",
           "dumps_graph", "load_function", "loads_graph", "safe_load", "safe_loads"]


class SerializationError(TypeError):
    """A graph (or a pickle payload) that cannot be stored or read back."""


# ---------------------------------------------------------------------------------------------
# Public API


@dataclasses.dataclass
class LoadedGraph:
    """What loads_graph returns: fresh Variables wired as the stored graph was."""

    inputs: list[Variable]
    outputs: list[Variable]
    updates: list[tuple[SharedVariable, Variable]]
    options: dict

    def function(self, **overrides):
        """Compile the graph through function() with its stored options (overrides win).  The
        unoptimized graph is the stored one, so a cache entry built for it is found again."""
        opts = {**self.options, **overrides}
        return _build_function(self, opts)


def dumps_graph(inputs: Sequence[Variable], outputs: Sequence[Variable],
                updates: Sequence[tuple[SharedVariable, Variable]] = (), *, options: dict | None = None,
                shared_table: list[SharedVariable] | None = None, shared_values: bool = True) -> str:
    """The graph from `inputs` to `outputs` (plus `updates`) as JSON text.

    shared_table: when given, shared variables are stored as references into it (appended in
    order of first use) rather than with their values; pickling passes the variables themselves
    to the pickler, so functions pickled together keep sharing them.  shared_values=False
    stores only the type of self-contained shared variables (enough to rebuild and warm a
    cache entry; loading gives them empty values).
    """
    enc = _Encoder(shared_table, shared_values)
    updates = [(v, e) for v, e in updates]
    for v, _ in updates:
        if not isinstance(v, SharedVariable):
            raise SerializationError(f"updates: {v} is not a shared variable")
    graph, ids = enc.graph(list(inputs), list(outputs) + [e for _, e in updates], [v for v, _ in updates])
    n_out = len(outputs)
    graph["outputs"] = graph["outputs"][:n_out]
    upd = [[ids[id(v)], ids[id(e)]] for v, e in updates]
    doc = {"format": FORMAT, "version": VERSION, "ops": enc.ops, "graph": graph, "updates": upd,
           "options": _plain(options or {})}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)


def loads_graph(text: str | bytes, *, shared_table: Sequence[SharedVariable] | None = None) -> LoadedGraph:
    """Rebuild a graph stored by dumps_graph (shared_table: the variables its references name)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise SerializationError(f"not a serialized ccgrad graph: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SerializationError("not a serialized ccgrad graph (no 'format': 'ccgrad-graph')")
    if doc.get("version") != VERSION:
        raise SerializationError(
            f"serialized graph version {doc.get('version')!r}; this ccgrad reads version {VERSION}")
    import ccgrad.ops  # noqa: F401  (fills the scalar-op table)

    dec = _Decoder(doc.get("ops", []), shared_table)
    graph = doc["graph"]
    vars_ = dec.graph_vars(graph)
    inputs = [vars_[i] for i in graph["inputs"]]
    outputs = [vars_[i] for i in graph["outputs"]]
    updates = []
    for k, e in doc.get("updates", []):
        var = vars_[k]
        if not isinstance(var, SharedVariable):
            raise SerializationError(f"update target {k} is not a shared variable")
        updates.append((var, vars_[e]))
    return LoadedGraph(inputs, outputs, updates, dict(doc.get("options", {})))


def dumps_function(f, shared_table: list[SharedVariable] | None = None, shared_values: bool = True) -> str:
    """A compiled function's unoptimized graph and options (what pickling and recording store)."""
    inputs, outputs, updates, options = function_parts(f)
    return dumps_graph(inputs, outputs, updates, options=options, shared_table=shared_table,
                       shared_values=shared_values)


def load_function(text: str, shared: Sequence[SharedVariable] = ()):
    """Rebuild a function from dumps_function's text (the unpickling entry point): compiled
    through function(), so it re-links from the cache when the entry exists."""
    return loads_graph(text, shared_table=list(shared)).function()


def function_parts(f) -> tuple[list[Variable], list[Variable], list[tuple[SharedVariable, Variable]], dict]:
    """(inputs, outputs, updates, options) of a Function or CFunction, as function() saw them
    after givens and default updates."""
    maker = f.maker
    n_out = maker.n_outputs
    outputs = list(maker.original_fgraph.outputs[:n_out])
    borrow = list(getattr(f, "_borrow", None) or [False] * n_out)
    options = {
        "mode": maker.mode,
        "name": f.name,
        "optimize": bool(getattr(maker, "_optimize", True)),
        "allow_input_downcast": getattr(f, "_downcast", None),
        "single": bool(getattr(f, "_single", False)),
        "borrow": [bool(b) for b in borrow],
        "trust_input": bool(f.trust_input),
    }
    return list(f._inputs), outputs, list(maker.updates), options


def reduce_function(f):
    """Function.__reduce__: the graph as JSON text plus its shared variables (pickled as
    objects, with their values)."""
    table: list[SharedVariable] = []
    text = dumps_function(f, shared_table=table)
    return (load_function, (text, table))


# What a pickled function or shared variable needs, and nothing else: the two rebuild functions,
# ccgrad's shared-variable classes, numpy's array reconstruction (protocols 2-5).
_SAFE_GLOBALS = {
    ("ccgrad.serialize", "load_function"), ("ccgrad.sharedvar", "_rebuild_shared"),
    ("ccgrad.sharedvar", "_set_default_update"), ("ccgrad.sharedvar", "TensorSharedVariable"),
    ("ccgrad.graph", "SharedVariable"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that loads pickled ccgrad functions and shared variables (and containers of
    them) but refuses every other global, so an untrusted file cannot run arbitrary code
    through pickle.  The graph text inside is rebuilt by loads_graph, which only constructs
    ccgrad ops."""

    def find_class(self, module: str, name: str):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not a ccgrad function or shared variable")


def safe_loads(data: bytes):
    """pickle.loads restricted to ccgrad functions, shared variables and numpy arrays."""
    return SafeUnpickler(io.BytesIO(data)).load()


def safe_load(file):
    """pickle.load from an open binary file, restricted as safe_loads."""
    return SafeUnpickler(file).load()


def _build_function(g: LoadedGraph, opts: dict):
    from ccgrad.function import Out, function

    borrow = list(opts.get("borrow") or [False] * len(g.outputs))
    outs = [Out(v, borrow=True) if b else v for v, b in zip(g.outputs, borrow)]
    if opts.get("single") and len(outs) == 1:
        outputs: Any = outs[0]
    else:
        outputs = outs
    f = function(g.inputs, outputs, mode=opts.get("mode"), updates=g.updates, name=opts.get("name"),
                 allow_input_downcast=opts.get("allow_input_downcast"), on_unused_input="ignore",
                 no_default_updates=True, optimize=opts.get("optimize", True))
    if opts.get("trust_input"):
        f.trust_input = True
    return f


# ---------------------------------------------------------------------------------------------
# Encoding


def _type_spec(t: TensorType) -> list:
    return [t.dtype, list(t.shape)]


def _array_spec(a: np.ndarray) -> dict:
    a = np.asarray(a)
    if a.dtype.name not in dtypes.SUPPORTED:
        raise SerializationError(f"cannot store an array of dtype {a.dtype}")
    le = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    return {"dtype": a.dtype.name, "shape": list(a.shape), "data": base64.b64encode(le.tobytes()).decode("ascii")}


def _plain(x):
    """JSON-ready copy of an options dict (tuples become lists)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if x is None or isinstance(x, bool | int | float | str):
        return x
    raise SerializationError(f"option value {x!r} is not JSON-safe")


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class _Encoder:
    def __init__(self, shared_table: list | None, shared_values: bool):
        self.ops: list[dict] = []
        self._op_index: dict[Op, int] = {}
        self.shared_table = shared_table
        self.shared_values = shared_values

    # -- graphs
    def graph(self, inputs: list[Variable], roots: list[Variable], extra_leaves: Sequence[Variable] = ()
              ) -> tuple[dict, dict[int, int]]:
        order = toposort(roots, stop=inputs)
        produced = {id(o) for node in order for o in node.outputs}
        leaves: list[Variable] = []
        ids: dict[int, int] = {}

        def leaf(v: Variable) -> None:
            if id(v) not in ids and id(v) not in produced:
                ids[id(v)] = len(leaves)
                leaves.append(v)

        for v in inputs:
            if id(v) in ids:
                raise SerializationError(f"input {v} appears twice")
            ids[id(v)] = len(leaves)
            leaves.append(v)
        for node in order:
            for v in node.inputs:
                leaf(v)
        for v in list(roots) + list(extra_leaves):
            leaf(v)
        in_ids = {id(v) for v in inputs}
        leaf_specs = [self.leaf(v, id(v) in in_ids) for v in leaves]
        nodes = []
        nxt = len(leaves)
        for node in order:
            spec = {"op": self.op(node.op), "in": [ids[id(v)] for v in node.inputs],
                    "out": [_type_spec(o.type) for o in node.outputs]}
            if any(o.name is not None for o in node.outputs):
                spec["names"] = [o.name for o in node.outputs]
            nodes.append(spec)
            for o in node.outputs:
                ids[id(o)] = nxt
                nxt += 1
        graph = {"leaves": leaf_specs, "nodes": nodes, "inputs": [ids[id(v)] for v in inputs],
                 "outputs": [ids[id(v)] for v in roots]}
        return graph, ids

    def leaf(self, v: Variable, is_input: bool) -> dict:
        spec: dict = {"type": _type_spec(v.type), "name": v.name}
        if isinstance(v, Constant) and not is_input:
            spec.update(kind="constant", data=_array_spec(v.data), weak=bool(v.weak))
        elif isinstance(v, SharedVariable) and not is_input:
            spec["kind"] = "shared"
            if self.shared_table is not None:
                k = next((i for i, s in enumerate(self.shared_table) if s is v), None)
                if k is None:
                    k = len(self.shared_table)
                    self.shared_table.append(v)
                spec["ref"] = k
            else:
                spec["class"] = _class_path(type(v))
                spec["value"] = _array_spec(v.container[0]) if self.shared_values else None
                spec["strict"] = bool(getattr(v, "strict", False))
                spec["allow_downcast"] = getattr(v, "allow_downcast", None)
        else:
            spec["kind"] = "input"
        return spec

    # -- ops
    def op(self, op: Op) -> int:
        k = self._op_index.get(op)
        if k is not None:
            return k
        spec = self._op_spec(op)
        k = len(self.ops)
        self.ops.append(spec)
        self._op_index[op] = k
        return k

    def _op_spec(self, op: Op) -> dict:
        cls = type(op)
        path = _class_path(cls)
        if not path.startswith("ccgrad.") or "<locals>" in path:
            raise SerializationError(f"op {op} ({path}): only ops defined at module level in ccgrad can be stored")
        hook = getattr(op, "serial_props", None)
        tries: list[tuple[str, Any]] = []
        if callable(hook):
            tries.append(("props", tuple(hook())))
        else:
            tries.append(("props", op._props()))
            kw = _init_kwargs(op)
            if kw is not None:
                tries.append(("kwargs", kw))
        problems = []
        for form, values in tries:
            try:
                rebuilt = _construct(cls, form, values)
            except Exception as exc:  # any failure means: try the next form
                problems.append(f"{form}: {type(exc).__name__}: {exc}")
                continue
            if rebuilt == op:
                if form == "props":
                    return {"class": path, "props": [self.value(x, op) for x in values]}
                return {"class": path, "kwargs": {k: self.value(x, op) for k, x in values.items()}}
            problems.append(f"{form}: rebuilt {rebuilt}, which differs")
        raise SerializationError(
            f"op {op} ({path}) cannot be rebuilt from its constructor values ({'; '.join(problems)}); "
            "give the class a `from_props` classmethod (and `serial_props()` if its __props__ are not "
            "the constructor's arguments)"
        )

    def value(self, x, op: Op):
        if x is None or isinstance(x, bool | str):
            return x
        if isinstance(x, int) and not isinstance(x, bool):
            return int(x)
        if isinstance(x, float):
            if math.isfinite(x):
                return x
            return {"float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}
        if isinstance(x, tuple):
            return [self.value(e, op) for e in x]
        if isinstance(x, list):
            return {"list": [self.value(e, op) for e in x]}
        if isinstance(x, slice):
            return {"slice": [self.value(e, op) for e in (x.start, x.stop, x.step)]}
        if isinstance(x, np.dtype):
            return {"dtype": x.name}
        if isinstance(x, np.ndarray):
            return {"array": _array_spec(x)}
        if isinstance(x, np.generic):
            return {"scalar": _array_spec(np.asarray(x))}
        if isinstance(x, TensorType):
            return {"type": _type_spec(x)}
        if isinstance(x, dict):
            return {"dict": [[self.value(k, op), self.value(v, op)] for k, v in x.items()]}
        if isinstance(x, frozenset):
            items = [self.value(e, op) for e in x]
            return {"frozenset": sorted(items, key=lambda e: json.dumps(e, sort_keys=True))}
        if isinstance(x, FunctionGraph):
            graph, _ = self.graph(list(x.inputs), list(x.outputs))
            return {"fgraph": graph}
        if isinstance(x, Op):
            return {"op": self.op(x)}
        sop = _scalar_op_spec(x)
        if sop is not None:
            return {"scalar_op": sop[0], "param": self.value(sop[1], op)}
        raise SerializationError(f"op {op}: cannot store a parameter of type {type(x).__name__} ({x!r})")


def _init_kwargs(op: Op) -> dict | None:
    """{parameter: op.<parameter>} for every parameter of type(op).__init__, when op has them all."""
    try:
        sig = inspect.signature(type(op).__init__)
    except (TypeError, ValueError):
        return None
    kw = {}
    for name, p in list(sig.parameters.items())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            return None
        if not hasattr(op, name):
            return None
        kw[name] = getattr(op, name)
    return kw


def _construct(cls: type, form: str, values):
    if form == "props":
        make = getattr(cls, "from_props", None)
        return make(*values) if callable(make) else cls(*values)
    return cls(**values)


def _scalar_op_spec(x) -> tuple[str, Any] | None:
    from ccgrad.ops.scalar import SCALAR_OPS, ScalarOp, cast_op

    if not isinstance(x, ScalarOp):
        return None
    if x.name == "cast":
        if cast_op(x.param) != x:
            raise SerializationError(f"scalar op {x} is not ccgrad.ops.scalar.cast_op({x.param!r})")
        return ("cast", x.param)
    row = SCALAR_OPS.get(x.name)
    if row is None or row != x:
        raise SerializationError(
            f"scalar op {x} is not a row of ccgrad.ops.scalar.SCALAR_OPS, so it cannot be stored by name"
        )
    return (x.name, x.param)


# ---------------------------------------------------------------------------------------------
# Decoding


def _decode_array(spec) -> np.ndarray:
    try:
        dtype = spec["dtype"]
        shape = tuple(int(s) for s in spec["shape"])
        raw = base64.b64decode(spec["data"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise SerializationError(f"bad array record: {exc}") from None
    if dtype not in dtypes.SUPPORTED or any(s < 0 for s in shape):
        raise SerializationError(f"bad array record: dtype {dtype!r}, shape {shape}")
    dt = np.dtype(dtype).newbyteorder("<")
    if len(raw) != math.prod(shape) * dt.itemsize:
        raise SerializationError(f"bad array record: {len(raw)} bytes for {dtype}{shape}")
    return np.frombuffer(raw, dtype=dt).astype(np.dtype(dtype), copy=True).reshape(shape)


def _decode_type(spec) -> TensorType:
    try:
        dtype, shape = spec
        return TensorType(dtype, shape=tuple(None if s is None else int(s) for s in shape))
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"bad type record {spec!r}: {exc}") from None


def _resolve(path: str, base: type) -> type:
    """The class at `path`, which must live in a ccgrad module and subclass `base`."""
    if not isinstance(path, str) or not path.startswith("ccgrad.") or "<" in path:
        raise SerializationError(f"refusing to load class {path!r}: only ccgrad classes are allowed")
    parts = path.split(".")
    obj = None
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            obj = None
        break
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise SerializationError(f"{path!r} is not a {base.__name__} class")
    return obj


class _Decoder:
    def __init__(self, op_specs: list, shared_table: Sequence[SharedVariable] | None):
        self.op_specs = op_specs
        self._ops: dict[int, Op] = {}
        self.shared_table = shared_table

    def op(self, k: int) -> Op:
        got = self._ops.get(k)
        if got is not None:
            return got
        try:
            spec = self.op_specs[k]
        except (IndexError, TypeError):
            raise SerializationError(f"op reference {k!r} out of range") from None
        cls = _resolve(spec.get("class"), Op)
        try:
            if "kwargs" in spec:
                op = _construct(cls, "kwargs", {str(n): self.value(v) for n, v in spec["kwargs"].items()})
            else:
                op = _construct(cls, "props", tuple(self.value(v) for v in spec.get("props", [])))
        except SerializationError:
            raise
        except Exception as exc:
            raise SerializationError(f"cannot rebuild op {spec.get('class')}: {type(exc).__name__}: {exc}") from exc
        self._ops[k] = op
        return op

    def value(self, x):
        if x is None or isinstance(x, bool | int | float | str):
            return x
        if isinstance(x, list):
            return tuple(self.value(e) for e in x)
        if not isinstance(x, dict) or len(x) not in (1, 2):
            raise SerializationError(f"bad value record {x!r}")
        if "list" in x:
            return [self.value(e) for e in x["list"]]
        if "float" in x:
            return float(x["float"])
        if "slice" in x:
            return slice(*(self.value(e) for e in x["slice"]))
        if "dtype" in x:
            return np.dtype(dtypes.canonical(x["dtype"]))
        if "array" in x:
            return _decode_array(x["array"])
        if "scalar" in x:
            return _decode_array(x["scalar"])[()]
        if "type" in x:
            return _decode_type(x["type"])
        if "dict" in x:
            return {self.value(k): self.value(v) for k, v in x["dict"]}
        if "frozenset" in x:
            return frozenset(self.value(e) for e in x["frozenset"])
        if "fgraph" in x:
            vars_ = self.graph_vars(x["fgraph"])
            return FunctionGraph([vars_[i] for i in x["fgraph"]["inputs"]],
                                 [vars_[i] for i in x["fgraph"]["outputs"]])
        if "op" in x:
            return self.op(x["op"])
        if "scalar_op" in x:
            from ccgrad.ops.scalar import SCALAR_OPS, cast_op

            name, param = x["scalar_op"], self.value(x.get("param"))
            if name == "cast":
                return cast_op(param)
            row = SCALAR_OPS.get(name)
            if row is None or row.param != param:
                raise SerializationError(f"unknown scalar op {name!r} (param {param!r})")
            return row
        raise SerializationError(f"bad value record {x!r}")

    def leaf(self, spec: dict) -> Variable:
        t = _decode_type(spec.get("type"))
        name = spec.get("name")
        kind = spec.get("kind")
        if kind == "input":
            return Variable(t, name=name)
        if kind == "constant":
            data = _decode_array(spec["data"])
            if data.dtype.name != t.dtype or data.ndim != t.ndim or any(
                    s is not None and s != n for s, n in zip(t.shape, data.shape)):
                raise SerializationError(f"constant {name!r}: data {data.dtype}{data.shape} does not fit {t!r}")
            return Constant(t, data, name=name, weak=bool(spec.get("weak", False)))
        if kind == "shared":
            return self.shared(spec, t, name)
        raise SerializationError(f"bad leaf kind {kind!r}")

    def shared(self, spec: dict, t: TensorType, name) -> SharedVariable:
        if "ref" in spec:
            k = spec["ref"]
            if self.shared_table is None or not isinstance(k, int) or not 0 <= k < len(self.shared_table):
                raise SerializationError(f"shared variable {name!r}: reference {k!r} without a matching table")
            var = self.shared_table[k]
            if not isinstance(var, SharedVariable) or var.type != t:
                raise SerializationError(f"shared variable {name!r}: the table entry does not have type {t!r}")
            return var
        from ccgrad.sharedvar import TensorSharedVariable

        cls = _resolve(spec.get("class", "ccgrad.sharedvar.TensorSharedVariable"), SharedVariable)
        if spec.get("value") is not None:
            value = _decode_array(spec["value"])
            if value.dtype.name != t.dtype or value.ndim != t.ndim:
                raise SerializationError(f"shared variable {name!r}: value does not fit {t!r}")
        else:
            value = np.zeros(tuple(1 if s == 1 else 0 for s in t.shape), dtype=t.dtype)
        if issubclass(cls, TensorSharedVariable):
            return cls(t, value, name=name, strict=bool(spec.get("strict", False)),
                       allow_downcast=spec.get("allow_downcast"))
        return cls(t, value, name=name)

    def graph_vars(self, g: dict) -> list[Variable]:
        """Every variable of a GRAPH record, by id."""
        try:
            vars_: list[Variable] = [self.leaf(s) for s in g["leaves"]]
            for nspec in g["nodes"]:
                op = self.op(nspec["op"])
                ins = [vars_[i] for i in nspec["in"]]
                node = Apply(op, ins, [_decode_type(t) for t in nspec["out"]])
                for o, nm in zip(node.outputs, nspec.get("names") or []):
                    o.name = nm
                vars_.extend(node.outputs)
        except (KeyError, IndexError, TypeError) as exc:
            raise SerializationError(f"malformed graph record: {type(exc).__name__}: {exc}") from None
        return vars_
