"""The numpy reference evaluator: walks a graph calling each op's `perform`.

It is the test oracle, the constant folder and `mode="py"`; never the default backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ccgrad.graph import Apply, Constant, Variable, toposort


def evaluate(outputs: Sequence[Variable], values: Mapping[Variable, object],
             order: Sequence[Apply] | None = None) -> list[np.ndarray]:
    """Values of `outputs` given `values` for the graph's leaves (and any other variables).

    Leaves missing from `values` raise a ValueError naming them; shared variables supply their
    current value.
    """
    env: dict[int, np.ndarray] = {}
    for var, val in values.items():
        env[id(var)] = val if isinstance(val, np.ndarray) else np.asarray(val)
    if order is None:
        order = toposort(outputs, stop=list(values.keys()))
    for node in order:
        if all(id(o) in env for o in node.outputs):
            continue
        args = [_value(v, env) for v in node.inputs]
        results = node.op.perform(node, args)
        if len(results) != len(node.outputs):
            raise RuntimeError(f"{node.op}.perform returned {len(results)} values for {len(node.outputs)} outputs")
        for var, res in zip(node.outputs, results):
            res = np.asarray(res)
            if res.dtype.name != var.dtype:
                raise TypeError(f"{node.op}.perform returned {res.dtype}, its type rule says {var.dtype}")
            if res.ndim != var.ndim:
                raise TypeError(f"{node.op}.perform returned ndim {res.ndim}, its type rule says {var.ndim}")
            env[id(var)] = res
    return [_value(v, env) for v in outputs]


def _value(v: Variable, env: dict[int, np.ndarray]) -> np.ndarray:
    try:
        return env[id(v)]
    except KeyError:
        pass
    if isinstance(v, Constant):
        return v.data
    container = getattr(v, "container", None)
    if container is not None:
        return container[0]
    raise ValueError(f"no value given for input {v} ({v.type!r})")
