"""Printing graphs: `pp` in Theano's infix style and `debugprint`, an indented tree with types."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ccgrad.graph import Constant, FunctionGraph, Variable


def pp(var: Variable | FunctionGraph) -> str:
    """One-line infix form: pp(x**2) == '(x ** 2)'.  Leaves print their name or value."""
    if isinstance(var, FunctionGraph):
        return "\n".join(pp(o) for o in var.outputs)
    memo: dict[int, str] = {}

    def show(v: Variable) -> str:
        key = id(v)
        if key in memo:
            return memo[key]
        if v.owner is None:
            if isinstance(v, Constant):
                s = v.name if v.name is not None else v.value_str()
            else:
                s = v.name if v.name is not None else f"<{v.type!r}>"
        else:
            node = v.owner
            args = [show(i) for i in node.inputs]
            s = node.op.pp(node, args)
            if len(node.outputs) > 1:
                s = f"{s}[{v.index}]"
        memo[key] = s
        return s

    # Deep graphs: evaluate bottom-up so recursion depth stays small.
    from ccgrad.graph import toposort

    for node in toposort([var]):
        for o in node.outputs:
            if o is not var:
                show(o)
    return show(var)


def debugprint(obj, file=None, print_type: bool = True, ids: str = "CHAR") -> str | None:
    """Indented tree of the graph, one Apply per line with [id X] tags, like Theano's.

    Accepts a Variable, a list of Variables, a FunctionGraph or a compiled Function.
    With file='str' returns the text instead of printing it.
    """
    if hasattr(obj, "maker"):
        outputs: Sequence[Variable] = obj.maker.fgraph.outputs
    elif isinstance(obj, FunctionGraph):
        outputs = obj.outputs
    elif isinstance(obj, Variable):
        outputs = [obj]
    else:
        outputs = list(obj)
    names: dict[int, str] = {}
    lines: list[str] = []

    def tag(v) -> str:
        key = id(v.owner) if v.owner is not None else id(v)
        if key not in names:
            names[key] = _id_name(len(names)) if ids == "CHAR" else str(len(names))
        return names[key]

    def walk(v: Variable, depth: int, seen: set[int]) -> None:
        prefix = " |" * depth
        t = f" {v.type!r}" if print_type else ""
        if v.owner is None:
            label = v.value_str() if isinstance(v, Constant) else (v.name or "<input>")
            lines.append(f"{prefix}{label} [id {tag(v)}]{t}")
            return
        node = v.owner
        out = f".{v.index}" if len(node.outputs) > 1 else ""
        name = f" '{v.name}'" if v.name else " ''"
        known = id(node) in seen
        lines.append(f"{prefix}{node.op}{out} [id {tag(v)}]{name}{t}{' ...' if known else ''}")
        if known:
            return
        seen.add(id(node))
        for i in node.inputs:
            walk(i, depth + 1, seen)

    seen: set[int] = set()
    for o in outputs:
        walk(o, 0, seen)
    text = "\n".join(lines)
    if file == "str":
        return text
    print(text, file=file or sys.stdout)
    return None


def _id_name(n: int) -> str:
    letters = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return letters


pprint = pp
