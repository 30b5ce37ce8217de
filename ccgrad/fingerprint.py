"""Structural fingerprints of graphs (the warm-start index of the cache; Scan's identity):
stable_repr gives a process-independent text for an op parameter, fingerprint hashes a
FunctionGraph's structure."""

from __future__ import annotations

import numpy as np

from ccgrad.graph import Constant, FunctionGraph, Op, TensorType, Variable


def stable_repr(x) -> str:
    """A process-independent text for an op parameter (never an id or a memory address)."""
    if x is None or isinstance(x, bool | int | float | str | bytes):
        return repr(x)
    if isinstance(x, np.generic):
        return f"{type(x).__name__}({x.item()!r})"
    if isinstance(x, tuple | list):
        inner = ",".join(stable_repr(e) for e in x)
        return f"({inner})" if isinstance(x, tuple) else f"[{inner}]"
    if isinstance(x, frozenset | set):
        return "{" + ",".join(sorted(stable_repr(e) for e in x)) + "}"
    if isinstance(x, dict):
        return "{" + ",".join(f"{stable_repr(k)}:{stable_repr(v)}" for k, v in sorted(x.items())) + "}"
    if isinstance(x, slice):
        return f"slice({stable_repr(x.start)},{stable_repr(x.stop)},{stable_repr(x.step)})"
    if isinstance(x, np.dtype):
        return f"dtype({x.name})"
    if isinstance(x, np.ndarray):
        import hashlib

        return f"array({x.dtype.name},{x.shape},{hashlib.sha256(x.tobytes()).hexdigest()[:32]})"
    if isinstance(x, TensorType):
        return f"T({x.dtype},{x.shape})"
    if isinstance(x, Op):
        return f"{type(x).__module__}.{type(x).__qualname__}{stable_repr(x._props())}"
    fp = getattr(x, "fingerprint", None)
    if callable(fp):
        return f"{type(x).__qualname__}:{fp()}"
    if hasattr(x, "nin") and hasattr(x, "impl") and hasattr(x, "name"):  # a scalar-op row
        return f"ScalarOp({x.name},{stable_repr(getattr(x, 'param', None))})"
    if isinstance(x, FunctionGraph):
        return f"FG({fingerprint(x)})"
    text = repr(x)
    if " at 0x" in text:
        raise TypeError(f"no stable fingerprint for {type(x).__name__}; give it a fingerprint() method")
    return f"{type(x).__qualname__}:{text}"


def fingerprint(fgraph: FunctionGraph, extra: str = "") -> str:
    """sha256 of the graph's structure: input types and order, ops with their parameters,
    constants' values, outputs.  Names and construction order do not matter."""
    import hashlib

    h = hashlib.sha256()
    h.update(extra.encode())
    ref: dict[int, str] = {}
    for i, v in enumerate(fgraph.inputs):
        ref[id(v)] = f"i{i}"
        h.update(f"in {i} {stable_repr(v.type)} {type(v).__name__}\n".encode())

    def r(v: Variable) -> str:
        got = ref.get(id(v))
        if got is not None:
            return got
        if isinstance(v, Constant):
            s = "c" + stable_repr(v.data) + stable_repr(v.type) + ("w" if v.weak else "")
            ref[id(v)] = s
            return s
        raise ValueError(f"fingerprint: {v} is neither an input nor computed in the graph")

    for k, node in enumerate(fgraph.toposort()):
        h.update(f"n{k} {stable_repr(node.op)} {','.join(r(v) for v in node.inputs)}\n".encode())
        for j, o in enumerate(node.outputs):
            ref[id(o)] = f"n{k}.{j}"
    h.update(("out " + ",".join(r(v) for v in fgraph.outputs)).encode())
    return h.hexdigest()
