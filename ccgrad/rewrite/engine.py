"""The rewrite engine: named rules in ordered tables, and the bottom-up driver that applies one
table (a phase) to a graph until nothing fires.

Nodes are immutable, so rewriting rebuilds the graph.  The driver maps every variable to its
rewritten ("final") version, visiting nodes inputs-first:

1. a node's inputs are replaced by their final versions; identical constants are merged by
   `Constant.signature()` and identical nodes by the key (op, ids of final inputs) -- that is
   CSE by hash-consing, and dead code never gets visited because the walk starts at the outputs;
2. the phase's rules for that node (indexed by op: the scalar op's name for Elemwise nodes, the
   class name otherwise; key "*" matches every node, "Elemwise" every elementwise node) are
   tried in table order; the first one that returns a replacement wins, and the replacement is
   itself rewritten (its new nodes go through step 1-2) before it stands for the node;
3. a node on which no rule fires is final.  Rules only look *down* (at inputs and their
   producers), and inputs are final before their users are visited, so one walk reaches a fixed
   point (a second walk may only reorder commutative operands: their sort key, `ctx.rank`, is
   the order in which a walk first meets them); a cap on rule applications and on nesting
   depth guards against rules that undo each other.

Every replacement must have the type (dtype, ndim, static shape) of what it replaces: the driver
checks it.  A different dtype or ndim is a bug in the rule (raised when `STRICT` is set, as the
tests do; otherwise the replacement is dropped); a different static shape means the rule could
not prove its shape, and the replacement is dropped silently.

Deterministic: iteration follows the graph's input order and the tables' order, never a set or an
`id()` order; `id()` serves only as a dictionary key.  `CCGRAD_DEBUG=rewrite` prints every
applied rule with the expression before and after (`pp`).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ccgrad import options as _options
from ccgrad.graph import Apply, Constant, TensorType, Variable

STRICT = False  # raise on a replacement of the wrong dtype/ndim (tests turn this on)
MAX_DEPTH = 60  # nested rewrites of replacements
VISITS_PER_NODE = 40  # rule applications allowed per node of the input graph (plus a base)


class RewriteError(TypeError):
    """A rule returned a replacement that does not match the replaced variable's type."""


Callback = Callable[[Apply, "Rewriter"], "Variable | Sequence[Variable] | None"]


@dataclass(frozen=True)
class Rule:
    """A named rewrite: `fn(node, ctx)` returns a replacement (one Variable per output, or a
    single Variable for one-output nodes) or None when it does not apply.

    key: the scalar op name for Elemwise nodes ("add", "exp"), the op class name otherwise
    ("DimShuffle"), "Elemwise" for every elementwise node, "*" for every node.
    """

    name: str
    key: str
    fn: Callback


def rule(name: str, key: str) -> Callable[[Callback], Rule]:
    """Decorator turning a callback into a Rule: `@rule("mul_by_one", "mul")`."""

    def deco(fn: Callback) -> Rule:
        return Rule(name, key, fn)

    return deco


def node_key(node: Apply) -> str:
    """The index key of a node: its scalar op name for Elemwise, else its op's class name."""
    op = node.op
    if type(op).__name__ == "Elemwise":
        return op.scalar_op.name
    return type(op).__name__


class Phase:
    """An ordered table of rules, applied together by one Rewriter walk."""

    def __init__(self, name: str, rules: Sequence[Rule]):
        self.name = name
        self.rules: tuple[Rule, ...] = tuple(rules)
        names = [r.name for r in self.rules]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"phase {name}: duplicate rule names {dup}")
        self._by_key: dict[tuple[str, bool], tuple[Rule, ...]] = {}

    def rules_for(self, key: str, elemwise: bool) -> tuple[Rule, ...]:
        """The rules that may fire on a node of this key, in table order."""
        k = (key, elemwise)
        found = self._by_key.get(k)
        if found is None:
            found = tuple(r for r in self.rules
                          if r.key == key or r.key == "*" or (elemwise and r.key == "Elemwise"))
            self._by_key[k] = found
        return found

    def run(self, inputs: Sequence[Variable], outputs: Sequence[Variable]) -> list[Variable]:
        """The rewritten outputs (the inputs stay the same objects)."""
        return Rewriter(self, inputs).rewrite(outputs)

    def __repr__(self) -> str:
        return f"Phase({self.name}, {len(self.rules)} rules)"


class Rewriter:
    """One walk of a phase over a graph.  Rules receive it as `ctx`: `ctx.final(v)` rewrites a
    helper expression now (e.g. to compare symbolic shapes), `ctx.rank(v)` gives a stable sort
    key for final variables (their order of first appearance)."""

    def __init__(self, phase: Phase, inputs: Sequence[Variable] = ()):
        self.phase = phase
        self._memo: dict[int, Variable] = {}  # id(var) -> final var (final vars map to themselves)
        self._alive: list[Variable] = []  # keeps keyed variables alive so ids stay unique
        self._cons: dict[tuple, tuple[Variable, ...]] = {}
        self._consts: dict[tuple, Constant] = {}
        self._active: set[tuple] = set()  # cons keys of nodes whose rules are running
        self._rank: dict[int, int] = {}
        self._depth = 0
        self._warned = False
        self.fired = 0
        self.cap = 1000
        self.trace = "rewrite" in _options.options.debug
        for v in inputs:
            self._set_final(v)

    # -- public API for rules

    def rewrite(self, outputs: Sequence[Variable]) -> list[Variable]:
        n = sum(1 for _ in _count_nodes(outputs, self._memo))
        self.cap = 1000 + VISITS_PER_NODE * n
        return [self.final(o) for o in outputs]

    def final(self, var: Variable) -> Variable:
        """The rewritten version of `var` (an original variable or one a rule just built)."""
        got = self._memo.get(id(var))
        if got is not None:
            return got
        for node in _pending(var, self._memo, self._leaf):
            self._process(node)
        return self._memo[id(var)]

    def rank(self, var: Variable) -> int:
        """Stable order key of a final variable (order of first appearance in this walk)."""
        return self._rank.get(id(var), 1 << 60)

    # -- the walk

    def _set_final(self, v: Variable) -> None:
        if id(v) not in self._memo:
            self._memo[id(v)] = v
            self._alive.append(v)
            self._rank[id(v)] = len(self._rank)

    def _leaf(self, v: Variable) -> None:
        """Register a leaf: constants are merged by value, other leaves are final as they are."""
        if isinstance(v, Constant):
            canon = self._consts.setdefault(v.signature(), v)
            if canon is v:
                self._set_final(v)
            else:
                self._memo[id(v)] = canon
                self._alive.append(v)
        else:
            self._set_final(v)

    def _process(self, node: Apply) -> None:
        memo = self._memo
        ins = tuple(memo[id(i)] for i in node.inputs)
        key = (node.op, tuple(id(i) for i in ins))
        outs = self._cons.get(key)
        if outs is None:
            if all(a is b for a, b in zip(ins, node.inputs)):
                new = node
            else:
                new = Apply(node.op, ins, [o.type for o in node.outputs])
            if key in self._active:  # a rule asked for its own node's rewrite: it stays as is
                for o in new.outputs:
                    self._set_final(o)
                outs = new.outputs
            else:
                self._active.add(key)
                try:
                    outs = self._apply_rules(new)
                finally:
                    self._active.discard(key)
            self._cons[key] = outs
        for o, f in zip(node.outputs, outs):
            if id(o) not in memo:
                memo[id(o)] = f
                self._alive.append(o)

    def _apply_rules(self, node: Apply) -> tuple[Variable, ...]:
        if self._depth >= MAX_DEPTH and not self._warned:
            self._warned = True
            warnings.warn(f"rewrite phase {self.phase.name!r}: replacements nested {MAX_DEPTH} deep (rules "
                          "that keep rewriting their own output?); the graph is left partly optimized",
                          RuntimeWarning, stacklevel=2)
        if self.fired < self.cap and self._depth < MAX_DEPTH:
            for r in self.phase.rules_for(node_key(node), type(node.op).__name__ == "Elemwise"):
                res = r.fn(node, self)
                if res is None:
                    continue
                repl = [res] if isinstance(res, Variable) else list(res)
                if any(a is b for a, b in zip(repl, node.outputs)) or not self._check(r, node, repl):
                    continue
                self.fired += 1
                if self.fired == self.cap and not self._warned:
                    self._warned = True
                    warnings.warn(f"rewrite phase {self.phase.name!r}: rule application cap reached; "
                                  "the graph is left partly optimized", RuntimeWarning, stacklevel=2)
                self._depth += 1
                try:
                    outs = tuple(self.final(v) for v in repl)
                finally:
                    self._depth -= 1
                if self.trace:
                    _print_trace(self.phase.name, r.name, node.outputs, outs)
                return outs
        for o in node.outputs:
            self._set_final(o)
        return node.outputs

    def _check(self, r: Rule, node: Apply, repl: list) -> bool:
        if len(repl) != len(node.outputs):
            raise RewriteError(f"rule {r.name} returned {len(repl)} values for {len(node.outputs)} outputs")
        for old, new in zip(node.outputs, repl):
            if not isinstance(new, Variable):
                raise RewriteError(f"rule {r.name} returned {type(new).__name__}, not a Variable")
            if new.type == old.type:
                continue
            if new.type.dtype != old.type.dtype or new.type.ndim != old.type.ndim:
                msg = f"rule {r.name} replaced {old.type!r} by {new.type!r} at {node.op}"
                if STRICT:
                    raise RewriteError(msg)
                warnings.warn(msg + " (a bug in the rule; the replacement is dropped)", RuntimeWarning,
                              stacklevel=2)
            return False
        return True


def _pending(var: Variable, memo: dict[int, Variable], leaf: Callable[[Variable], None]) -> list[Apply]:
    """Nodes between `var` and already-final variables, inputs first (iterative DFS)."""
    order: list[Apply] = []
    if var.owner is None:
        leaf(var)
        return order
    seen = {id(var.owner)}
    stack: list[list] = [[var.owner, 0]]
    while stack:
        frame = stack[-1]
        node, pos = frame
        if pos < len(node.inputs):
            frame[1] += 1
            v = node.inputs[pos]
            if id(v) in memo:
                continue
            o = v.owner
            if o is None:
                leaf(v)
            elif id(o) not in seen:
                seen.add(id(o))
                stack.append([o, 0])
        else:
            stack.pop()
            order.append(node)
    return order


def _count_nodes(outputs: Sequence[Variable], memo: dict[int, Variable]):
    seen: set[int] = set()
    stack = [v for v in outputs]
    while stack:
        v = stack.pop()
        o = v.owner
        if o is None or id(v) in memo or id(o) in seen:
            continue
        seen.add(id(o))
        yield o
        stack.extend(o.inputs)


def _print_trace(phase: str, name: str, before: Sequence[Variable], after: Sequence[Variable]) -> None:
    from ccgrad.printing import pp

    def short(v: Variable) -> str:
        s = pp(v)
        return s if len(s) <= 400 else s[:400] + " ..."

    for b, a in zip(before, after):
        print(f"rewrite[{phase}] {name}: {short(b)}  ->  {short(a)}", file=sys.stderr)


def same_type(a: Variable, b: Variable | TensorType) -> bool:
    """True when `a` has exactly the type of `b` (a variable or a type)."""
    t = b if isinstance(b, TensorType) else b.type
    return a.type == t
