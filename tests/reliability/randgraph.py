"""Seeded random graphs over the op set and their derivatives, batched into one compiled function.

A batch shares seven inputs (matrices A (3,4) and B (4,2), vectors v (4,) and w (3,), a scalar,
a row and a column).  Each random graph composes 2-7 ops chosen among smooth elementwise
functions, broadcasting binary ops, reductions (sum/mean/max/prod over an axis or all, keepdims),
dot products, slicing, reversed and integer/vector indexing, set/inc_subtensor, reshape,
flatten, transpose/dimshuffle, concatenate/stack and (log-)softmax, tracking concrete shapes so
every graph is valid.  Per graph: the value e, a scalar cost sum(e * P), grad(cost), Rop(e, d),
Lop(e, U), the Hessian-vector product Rop(grad(cost), d), and sometimes a full Hessian.  Kinks
(abs, maximum, switch) are left out so that finite differences apply everywhere.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

import ccgrad.tensor as T
from ccgrad.graph import TensorType, Variable

INPUTS = [("A", (None, None), (3, 4)), ("B", (None, None), (4, 2)), ("v", (None,), (4,)), ("w", (None,), (3,)),
          ("s", (), ()), ("r", (1, None), (1, 4)), ("c", (None, 1), (3, 1))]

UNARY = {
    "tanh": T.tanh, "sin": T.sin, "cos": T.cos, "sigmoid": lambda u: T.nnet.sigmoid(u),
    "softplus": lambda u: T.nnet.softplus(u), "exp_tanh": lambda u: T.exp(T.tanh(u)),
    "log1p_sq": lambda u: T.log1p(u * u), "sqrt_sq1": lambda u: T.sqrt(u * u + 1), "sqr": lambda u: u * u,
    "cube": lambda u: u**3, "neg": lambda u: -u, "recip": lambda u: 1 / (1 + u * u), "scale": lambda u: u * 0.75 + 0.1,
    "erf": lambda u: T.erf(u * 0.5), "arctan": lambda u: T.arctan(u), "expm1_t": lambda u: T.expm1(T.tanh(u)),
}
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / (1.5 + b * b), "hypot": lambda a, b: T.sqrt(a * a + b * b + 0.25)}


@dataclass
class Node:
    var: Variable
    shape: tuple  # concrete runtime shape
    tie: bool = False  # may hold exactly repeated values (joined/stacked/gathered copies)

    @property
    def static(self) -> tuple:
        return self.var.type.shape


@dataclass
class RGraph:
    desc: list[str]
    expr: Node
    wrt: list[int]  # indices of the float inputs it depends on
    outputs: dict[str, Variable] = field(default_factory=dict)
    lop_point: np.ndarray | None = None


def _compatible(a: Node, b: Node) -> bool:
    if a.var.ndim == 0 or b.var.ndim == 0:
        return True
    if a.var.ndim != b.var.ndim:
        return False
    for sa, sb, na, nb in zip(a.static, b.static, a.shape, b.shape):
        if sa == 1 or sb == 1:
            continue
        if na != nb:
            return False
    return True


def _bshape(a: Node, b: Node) -> tuple:
    if a.var.ndim == 0:
        return b.shape
    if b.var.ndim == 0:
        return a.shape
    return tuple(nb if sa == 1 else na for na, nb, sa in zip(a.shape, b.shape, a.static))


class Generator:
    """Random graphs over shared inputs (one dtype)."""

    def __init__(self, rng: random.Random, dtype: str = "float64"):
        self.rng = rng
        self.dtype = dtype
        self.inputs = [TensorType(dtype, shape=st)(n) for n, st, _ in INPUTS]
        self.shapes = [sh for _, _, sh in INPUTS]

    def _pick(self, pool: list[Node], pred=lambda n: True) -> Node | None:
        cands = [n for n in pool if pred(n)]
        return self.rng.choice(cands) if cands else None

    def step(self, pool: list[Node], desc: list[str]) -> Node | None:
        """One random op on nodes of the pool; exact copies of values are marked (`tie`) and
        never reach a max, whose derivative at a tie is a matter of convention (Theano gives
        every tied position the full gradient), not something finite differences check."""
        node = self._step(pool, desc)
        if node is not None and not node.tie:
            node.tie = desc[-1].startswith(("concatenate", "stack", "[[")) or any(
                n.tie for n in pool if _uses(node.var, n.var))
        return node

    def _step(self, pool: list[Node], desc: list[str]) -> Node | None:
        r = self.rng
        kind = r.choice(["unary", "unary", "binary", "binary", "reduce", "dot", "index", "reshape", "join",
                         "softmax", "setsub"])
        u = self._pick(pool)
        if kind == "unary":
            name = r.choice(sorted(UNARY))
            desc.append(name)
            return Node(UNARY[name](u.var), u.shape)
        if kind == "binary":
            b = self._pick(pool, lambda n: _compatible(u, n))
            name = r.choice(sorted(BINARY))
            desc.append(name)
            return Node(BINARY[name](u.var, b.var), _bshape(u, b))
        if kind == "reduce" and u.var.ndim > 0:
            op = r.choice(["sum", "mean", "max", "prod", "sum_all"])
            if op == "max" and u.tie:
                op = "sum"
            if op == "sum_all":
                desc.append("sum_all")
                return Node(T.sum(u.var), ())
            axis = r.randrange(u.var.ndim)
            keep = r.random() < 0.4
            desc.append(f"{op}(axis={axis},keep={keep})")
            out = getattr(T, op)(u.var, axis=axis, keepdims=keep)
            shape = tuple(1 if a == axis else n for a, n in enumerate(u.shape)) if keep else \
                tuple(n for a, n in enumerate(u.shape) if a != axis)
            return Node(out, shape)
        if kind == "dot":
            a = self._pick(pool, lambda n: n.var.ndim in (1, 2) and n.shape[-1] > 0)
            if a is None:
                return None
            k = a.shape[-1]
            b = self._pick(pool, lambda n: n.var.ndim in (1, 2) and n.shape[0] == k)
            if b is None:
                return None
            desc.append("dot")
            shape = a.shape[:-1] + b.shape[1:]
            return Node(T.dot(a.var, b.var), shape)
        if kind == "index" and u.var.ndim > 0 and u.shape[0] >= 2 and u.static[0] != 1:
            n0 = u.shape[0]
            op = r.choice(["tail", "rev", "int", "vec", "col", "T", "step"])
            if op == "tail":
                desc.append("[1:]")
                return Node(u.var[1:], (n0 - 1,) + u.shape[1:])
            if op == "rev":
                desc.append("[::-1]")
                return Node(u.var[::-1], u.shape)
            if op == "int":
                k = r.randrange(-n0, n0)
                desc.append(f"[{k}]")
                return Node(u.var[k], u.shape[1:])
            if op == "vec":
                idx = [r.randrange(n0) for _ in range(r.randrange(1, 5))]
                desc.append(f"[{idx}]")
                return Node(u.var[np.array(idx, dtype="int64")], (len(idx),) + u.shape[1:])
            if op == "col" and u.var.ndim == 2 and u.shape[1] >= 2 and u.static[1] != 1:
                k = r.randrange(u.shape[1])
                desc.append(f"[:, {k}]")
                return Node(u.var[:, k], (n0,))
            if op == "T" and u.var.ndim == 2:
                desc.append(".T")
                return Node(u.var.T, u.shape[::-1])
            desc.append("[::2]")
            return Node(u.var[::2], ((n0 + 1) // 2,) + u.shape[1:])
        if kind == "reshape" and u.var.ndim > 0:
            size = int(np.prod(u.shape))
            if u.var.ndim >= 2 and r.random() < 0.5:
                desc.append("flatten")
                return Node(T.flatten(u.var), (size,))
            if u.var.ndim == 1 and r.random() < 0.5:
                desc.append("dimshuffle(x,0)")
                return Node(u.var.dimshuffle("x", 0), (1, size))
            divs = [d for d in range(1, size + 1) if size % d == 0]
            d = r.choice(divs) if divs else 1
            desc.append(f"reshape({d},{size // d})")
            return Node(T.reshape(u.var, (d, size // d)), (d, size // d))
        if kind == "join" and u.var.ndim > 0:
            axis = r.randrange(u.var.ndim)
            b = self._pick(pool, lambda n: n.var.ndim == u.var.ndim and all(
                n.shape[a] == u.shape[a] for a in range(u.var.ndim) if a != axis))
            if r.random() < 0.3:
                b2 = self._pick(pool, lambda n: n.shape == u.shape and n.var.ndim == u.var.ndim)
                desc.append("stack")
                return Node(T.stack([u.var, b2.var]), (2,) + u.shape)
            desc.append(f"concatenate(axis={axis})")
            shape = tuple(u.shape[a] + b.shape[a] if a == axis else u.shape[a] for a in range(u.var.ndim))
            return Node(T.concatenate([u.var, b.var], axis=axis), shape)
        if kind == "softmax" and u.var.ndim == 2 and u.shape[1] > 0:
            if r.random() < 0.5:
                desc.append("softmax")
                return Node(T.nnet.softmax(u.var), u.shape)
            desc.append("log_softmax")
            return Node(T.nnet.log_softmax(u.var), u.shape)
        if kind == "setsub" and u.var.ndim > 0 and u.shape[0] >= 2 and u.static[0] != 1:
            if r.random() < 0.5:
                desc.append("set_subtensor([0], [1]*0.5)")
                return Node(T.set_subtensor(u.var[0], u.var[1] * 0.5), u.shape)
            desc.append("inc_subtensor([1:], [:-1]**2)")
            return Node(T.inc_subtensor(u.var[1:], u.var[:-1] ** 2), u.shape)
        return None

    def graph(self) -> RGraph:
        pool = [Node(v, sh) for v, sh in zip(self.inputs, self.shapes)]
        start = self.rng.sample(range(len(pool)), self.rng.randrange(1, 4))
        work = [pool[i] for i in start]
        desc = [f"inputs{[INPUTS[i][0] for i in start]}"]
        n_ops = self.rng.randrange(2, 8)
        while n_ops > 0:
            node = self.step(work, desc)
            if node is None:
                continue
            n_ops -= 1
            work.append(node)
        expr = work[-1]
        used = {id(v) for v in _ancestor_inputs(expr.var)}
        wrt = [i for i, v in enumerate(self.inputs) if id(v) in used]
        if not wrt:  # a constant expression: tie it to an input
            expr = Node(expr.var + self.inputs[4], expr.shape)
            wrt = [4]
        return RGraph(desc, expr, wrt)


def _uses(var: Variable, other: Variable) -> bool:
    """Is `other` among var's ancestors (or var itself)?"""
    from ccgrad.graph import ancestors

    return var is other or any(a is other for a in ancestors([var]))


def _ancestor_inputs(var: Variable) -> list[Variable]:
    from ccgrad.graph import graph_inputs

    return [v for v in graph_inputs([var]) if v.owner is None]


@dataclass
class Batch:
    inputs: list[Variable]
    values: list[np.ndarray]
    directions: list[np.ndarray]
    graphs: list[RGraph]
    outputs: list[Variable]
    labels: list[tuple[int, str]]  # (graph index, output name) per output
    dtype: str


def make_batch(seed: int, n_graphs: int, dtype: str = "float64", derivatives: bool = True) -> Batch:
    """n_graphs random graphs (seeded) with their derivative outputs, as one output list."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    gen = Generator(rng, dtype)
    values = [nrng.uniform(-1.2, 1.2, size=sh).astype(dtype) for sh in gen.shapes]
    directions = [nrng.uniform(-1, 1, size=sh).astype(dtype) for sh in gen.shapes]
    d_consts = [T.constant(d.astype(dtype)) for d in directions]
    graphs, outputs, labels = [], [], []
    for gi in range(n_graphs):
        g = gen.graph()
        e = g.expr
        weights = nrng.uniform(0.5, 1.5, size=e.shape).astype(dtype)
        cost = T.sum(e.var * T.constant(weights)) if e.var.ndim else e.var * 1.3
        g.outputs["value"] = e.var
        g.outputs["cost"] = cost
        if derivatives:
            wrt = [gen.inputs[i] for i in g.wrt]
            grads = T.grad(cost, wrt)
            for i, gr in zip(g.wrt, grads):
                g.outputs[f"grad{i}"] = gr
            g.outputs["rop"] = T.Rop(e.var, wrt, [d_consts[i] for i in g.wrt])
            g.lop_point = nrng.uniform(-1, 1, size=e.shape).astype(dtype)
            lops = T.Lop(e.var, wrt, T.constant(g.lop_point))
            lops = lops if isinstance(lops, list) else [lops]
            for i, lo in zip(g.wrt, lops):
                g.outputs[f"lop{i}"] = lo
            hvps = T.Rop(grads, wrt, [d_consts[i] for i in g.wrt])
            for i, h in zip(g.wrt, hvps):
                g.outputs[f"hvp{i}"] = h
            if g.wrt == [2] or (rng.random() < 0.15 and 2 in g.wrt):
                g.outputs["hess2"] = T.hessian(cost, gen.inputs[2])
        for name, var in g.outputs.items():
            outputs.append(var)
            labels.append((gi, name))
        graphs.append(g)
    return Batch(gen.inputs, values, directions, graphs, outputs, labels, dtype)
