"""Differentiation as graph-to-graph transforms: grad (reverse mode), Lop, Rop (forward mode),
hessian_vector_product, verify_grad.

Each op's vjp/jvp rule lives with the op; this module only walks the graph, sums cotangents and
brings each one back to its variable's type (summing broadcast axes, casting the dtype), so no
rule unbroadcasts by hand.  Results are ordinary graphs, so derivatives of derivatives work.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import (
    Apply,
    Constant,
    TensorType,
    Variable,
    as_variable,
    builder,
    is_undefined,
    toposort,
)
from ccgrad.options import config


class DisconnectedInputError(ValueError):
    """The cost does not depend (differentiably) on a variable grad was asked about."""


class NullTypeGradError(TypeError):
    """A gradient that is mathematically undefined reached one of the requested variables."""


class GradientError(Exception):
    """verify_grad found analytic and numeric gradients that disagree."""

    def __init__(self, arg: int, err_pos: int, shape, val1: float, val2: float,
                 abs_err: float, rel_err: float, abs_tol: float, rel_tol: float):
        super().__init__()
        self.arg, self.err_pos, self.shape = arg, err_pos, shape
        self.val1, self.val2 = val1, val2
        self.abs_err, self.rel_err = abs_err, rel_err
        self.abs_tol, self.rel_tol = abs_tol, rel_tol

    def __str__(self) -> str:
        return (
            f"gradient mismatch for input {self.arg} (shape {self.shape}) at flat position "
            f"{self.err_pos}: analytic {self.val1!r}, numeric {self.val2!r}; "
            f"max abs error {self.abs_err:.3g} (tol {self.abs_tol:.3g}), "
            f"max rel error {self.rel_err:.3g} (tol {self.rel_tol:.3g})"
        )


class DisconnectedType:
    """Returned for disconnected inputs when return_disconnected='disconnected'."""

    def __repr__(self) -> str:
        return "DisconnectedType()"


# ---------------------------------------------------------------------------------------------
# helpers


def _as_list(x, what: str) -> tuple[list, str]:
    """(items, kind) where kind is 'single', 'list' or 'tuple'."""
    if isinstance(x, list):
        return list(x), "list"
    if isinstance(x, tuple):
        return list(x), "tuple"
    if isinstance(x, set | frozenset | dict):
        raise TypeError(f"{what} must be a Variable, a list or a tuple, not a {type(x).__name__}")
    return [x], "single"


def _pack(items: list, kind: str):
    if kind == "single":
        return items[0]
    return tuple(items) if kind == "tuple" else items


def _float_dtype(v: Variable) -> str:
    return v.dtype if v.dtype in dtypes.FLOATS else config.floatX


def _zeros_like_float(v: Variable) -> Variable:
    return builder("zeros_like")(v, dtype=_float_dtype(v))


def match_type(var: Variable, g: Variable) -> Variable:
    """Bring a cotangent/tangent `g` to `var`'s type: sum axes where var is broadcastable but g
    is not, cast to var's float dtype."""
    if g.ndim != var.ndim:
        raise TypeError(f"gradient of ndim {g.ndim} for variable {var} of ndim {var.ndim}")
    axes = tuple(
        i for i, (a, b) in enumerate(zip(var.type.shape, g.type.shape)) if a == 1 and b != 1
    )
    if axes:
        g = builder("sum")(g, axis=axes, keepdims=True)
    want = _float_dtype(var)
    if g.dtype != want:
        g = builder("cast")(g, want)
    return g


def _sum(terms: list[Variable]) -> Variable:
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


# ---------------------------------------------------------------------------------------------
# reverse mode


def grad(cost: Variable | None, wrt, consider_constant: Sequence[Variable] | None = None,
         disconnected_inputs: str = "raise", add_names: bool = True,
         known_grads: Mapping[Variable, Variable] | None = None,
         return_disconnected: str = "zero", null_gradients: str = "raise"):
    """Symbolic gradient of the scalar `cost` with respect to `wrt` (Theano's T.grad).

    `wrt` may be a Variable (one result), a list (list) or a tuple (tuple).  `known_grads`
    maps variables to gradients already known for them (the cost may then be None).
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError("disconnected_inputs must be 'raise', 'warn' or 'ignore'")
    if return_disconnected not in ("zero", "None", "disconnected", "Disconnected"):
        raise ValueError("return_disconnected must be 'zero', 'None' or 'Disconnected'")
    if null_gradients not in ("raise", "return"):
        raise ValueError("null_gradients must be 'raise' or 'return'")
    if cost is None and not known_grads:
        raise AssertionError("grad needs a cost, or known_grads when cost is None")
    if cost is not None:
        if not isinstance(cost, Variable):
            raise TypeError(f"cost must be a Variable, got {type(cost).__name__}")
        if cost.ndim != 0:
            raise TypeError(f"cost must be a scalar (0-d); got a {cost.ndim}-d {cost.type!r}")
    wrt_list, kind = _as_list(wrt, "wrt")
    for i, w in enumerate(wrt_list):
        if not isinstance(w, Variable):
            raise TypeError(f"wrt[{i}] must be a Variable, got {type(w).__name__}")

    seeds: dict[int, list[Variable]] = {}
    seed_vars: list[Variable] = []

    def add_seed(v: Variable, g: Variable) -> None:
        if id(v) not in seeds:
            seeds[id(v)] = []
            seed_vars.append(v)
        seeds[id(v)].append(g)

    if cost is not None:
        add_seed(cost, builder("fill")(cost, Constant(TensorType(_float_dtype(cost), shape=()), 1.0)))
    for k, g in (known_grads or {}).items():
        k = as_variable(k)
        g = as_variable(g)
        if g.ndim != k.ndim:
            raise ValueError(f"known_grads: gradient of ndim {g.ndim} for {k} of ndim {k.ndim}")
        add_seed(k, g)

    stop = list(consider_constant or [])
    results = _reverse(seed_vars, seeds, wrt_list, stop)

    out = []
    for w, g in zip(wrt_list, results):
        if g is _DISCONNECTED:
            msg = (
                f"grad: the cost does not depend on {w!s} ({w.type!r}) through any "
                "differentiable path (it is not in the cost's graph, or only reaches it through "
                "non-differentiable ops such as shape, argmax or comparisons)"
            )
            if disconnected_inputs == "raise":
                raise DisconnectedInputError(msg)
            if disconnected_inputs == "warn":
                warnings.warn(msg, stacklevel=2)
            if return_disconnected == "zero":
                g = _zeros_like_float(w)
            elif return_disconnected == "None":
                g = None
            else:
                g = DisconnectedType()
        elif is_undefined(g):
            if null_gradients == "raise":
                raise NullTypeGradError(f"grad: the gradient with respect to {w} is undefined: {g.reason}")
        elif g is None:
            g = _zeros_like_float(w)
        elif w.dtype not in dtypes.FLOATS:
            g = _zeros_like_float(w)
        if add_names and isinstance(g, Variable) and cost is not None and cost.name and w.name:
            g.name = f"(d{cost.name}/d{w.name})"
        out.append(g)
    return _pack(out, kind)


_DISCONNECTED = object()


def _reverse(seed_vars: list[Variable], seeds: dict[int, list[Variable]],
             wrt: list[Variable], stop: list[Variable]) -> list:
    """The reverse sweep.  Returns, per wrt: a Variable, None (connected, zero), an undefined
    marker, or _DISCONNECTED."""
    stop_ids = {id(v) for v in stop}
    wrt_ids = {id(w) for w in wrt}
    order = toposort(seed_vars, stop=stop)

    # Which variables lie on a differentiable path to a seed (backward reachability).
    reaches: set[int] = set(seeds)
    for node in reversed(order):
        pattern = node.op.connection_pattern(node)
        outs = [id(o) in reaches for o in node.outputs]
        if not any(outs):
            continue
        for i, inp in enumerate(node.inputs):
            if id(inp) in stop_ids:
                continue
            if any(pattern[i][j] and outs[j] for j in range(len(outs))):
                reaches.add(id(inp))
    # Which variables depend on some wrt (forward reachability): no need to differentiate
    # anything else.
    depends: set[int] = set(wrt_ids)
    for node in order:
        pattern = node.op.connection_pattern(node)
        for j, o in enumerate(node.outputs):
            if any(id(inp) in depends and pattern[i][j] for i, inp in enumerate(node.inputs)):
                depends.add(id(o))

    cot: dict[int, list] = {k: list(v) for k, v in seeds.items()}
    for node in reversed(order):
        if not any(id(o) in cot for o in node.outputs):
            continue
        needed = [id(inp) in depends and id(inp) in reaches and id(inp) not in stop_ids
                  for inp in node.inputs]
        if not any(needed):
            continue
        couts = []
        for o in node.outputs:
            terms = cot.get(id(o))
            if not terms or o.dtype not in dtypes.FLOATS:
                couts.append(None)
                continue
            undefined = [t for t in terms if is_undefined(t)]
            if undefined:
                couts.append(undefined[0])
                continue
            couts.append(_sum(terms) if len(terms) > 1 else terms[0])
        if all(c is None for c in couts):
            continue
        if any(is_undefined(c) for c in couts):
            bad = next(c for c in couts if is_undefined(c))
            for i, inp in enumerate(node.inputs):
                if needed[i]:
                    cot.setdefault(id(inp), []).append(bad)
            continue
        gins = node.op.vjp(node, couts)
        if len(gins) != len(node.inputs):
            raise RuntimeError(f"{node.op}.vjp returned {len(gins)} gradients for {len(node.inputs)} inputs")
        for i, inp in enumerate(node.inputs):
            g = gins[i]
            if not needed[i] or g is None:
                continue
            if not is_undefined(g):
                if inp.dtype not in dtypes.FLOATS:
                    continue
                g = match_type(inp, as_variable(g))
            cot.setdefault(id(inp), []).append(g)

    results = []
    for w in wrt:
        if id(w) not in reaches:
            results.append(_DISCONNECTED)
            continue
        terms = cot.get(id(w))
        if not terms:
            results.append(None)
            continue
        undefined = [t for t in terms if is_undefined(t)]
        if undefined:
            results.append(undefined[0])
            continue
        g = _sum(terms) if len(terms) > 1 else terms[0]
        if w.dtype in dtypes.FLOATS:
            g = match_type(w, g)
        results.append(g)
    return results


def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs: str = "raise"):
    """Row vector(s) `eval_points` times the Jacobian of `f` w.r.t. `wrt`.

    Each eval point has the shape of its `f`; each result has the shape of its `wrt`.
    """
    f_list, _ = _as_list(f, "f")
    e_list, _ = _as_list(eval_points, "eval_points")
    if len(f_list) != len(e_list):
        raise ValueError(f"Lop: {len(f_list)} outputs but {len(e_list)} evaluation points")
    known = {}
    for i, (fv, ev) in enumerate(zip(f_list, e_list)):
        ev = as_variable(ev)
        if ev.ndim != fv.ndim:
            raise ValueError(
                f"Lop: element {i} of f/eval_points have mismatched dimensionality: "
                f"{fv.ndim} versus {ev.ndim}"
            )
        known[fv] = builder("specify_shape_like")(ev, fv)
    return grad(None, wrt, consider_constant=consider_constant,
                disconnected_inputs=disconnected_inputs, known_grads=known, add_names=False)


# ---------------------------------------------------------------------------------------------
# forward mode


def Rop(f, wrt, eval_points, disconnected_outputs: str = "raise",
        return_disconnected: str = "zero"):
    """The Jacobian of `f` w.r.t. `wrt` times `eval_points` (forward mode, through each op's
    jvp rule).  Each eval point has the shape of its `wrt`; results have the shape of `f`."""
    f_list, f_kind = _as_list(f, "f")
    w_list, _ = _as_list(wrt, "wrt")
    e_list, _ = _as_list(eval_points, "eval_points")
    if len(w_list) != len(e_list):
        raise ValueError(f"Rop: {len(w_list)} wrt but {len(e_list)} evaluation points")
    tangents: dict[int, Variable] = {}
    for i, (w, ev) in enumerate(zip(w_list, e_list)):
        if not isinstance(w, Variable):
            raise TypeError(f"Rop: wrt[{i}] must be a Variable, got {type(w).__name__}")
        ev = as_variable(ev)
        if ev.ndim != w.ndim:
            raise ValueError(
                f"Element {i} of wrt/eval_point have mismatched dimensionality: "
                f"{w.ndim} versus {ev.ndim}"
            )
        # Checking the shape keeps `wrt` in the graph and catches wrongly shaped points.
        ev = builder("specify_shape_like")(ev, w)
        if w.dtype in dtypes.FLOATS:
            ev = match_type(w, ev)
        tangents[id(w)] = ev
    tangents = forward(f_list, tangents, stop=w_list)
    out = []
    for fv in f_list:
        t = tangents.get(id(fv))
        if t is None:
            if disconnected_outputs == "raise" and not _depends(fv, w_list):
                raise DisconnectedInputError(f"Rop: output {fv} does not depend on any of wrt")
            if disconnected_outputs == "warn" and not _depends(fv, w_list):
                warnings.warn(f"Rop: output {fv} does not depend on any of wrt", stacklevel=2)
            t = None if return_disconnected == "None" else _zeros_like_float(fv)
        out.append(t)
    return _pack(out, f_kind)


def forward(outputs: Sequence[Variable], tangents: dict[int, Variable],
            stop: Sequence[Variable] = ()) -> dict[int, Variable]:
    """Propagate `tangents` (id(var) -> tangent) through the graph of `outputs` with jvp rules."""
    tangents = dict(tangents)
    for node in toposort(outputs, stop=stop):
        ts = [tangents.get(id(i)) for i in node.inputs]
        if all(t is None for t in ts):
            continue
        pattern = node.op.connection_pattern(node)
        ts = [t if any(pattern[i]) else None for i, t in enumerate(ts)]
        if all(t is None for t in ts):
            continue
        outs = jvp_of(node, ts)
        for o, t in zip(node.outputs, outs):
            if t is not None and o.dtype in dtypes.FLOATS:
                tangents[id(o)] = match_type(o, as_variable(t))
    return tangents


def jvp_of(node: Apply, tangents: list) -> list:
    """The op's jvp rule, or (only for ops without one) the double-vjp construction."""
    try:
        return node.op.jvp(node, tangents)
    except NotImplementedError:
        return _double_vjp(node, tangents)


def _double_vjp(node: Apply, tangents: list) -> list:
    """J t from vjp alone: u -> vjp(u) is linear in u, so J t = d/du <vjp(u), t>."""
    results = []
    for o in node.outputs:
        if o.dtype not in dtypes.FLOATS:
            results.append(None)
            continue
        u = TensorType(o.dtype, shape=o.type.shape)("u")
        couts = [u if oo is o else None for oo in node.outputs]
        gins = node.op.vjp(node, couts)
        total = None
        for g, t in zip(gins, tangents):
            if g is None or t is None or is_undefined(g):
                continue
            term = builder("sum")(g * t)
            total = term if total is None else total + term
        if total is None:
            results.append(None)
            continue
        jt = grad(total, u, disconnected_inputs="ignore")
        results.append(jt)
    return results


def _depends(v: Variable, wrt: Sequence[Variable]) -> bool:
    ids = {id(w) for w in wrt}
    if id(v) in ids:
        return True
    return any(id(i) in ids for n in toposort([v], stop=wrt) for i in n.inputs)


def hessian_vector_product(cost: Variable, wrt, v):
    """H(cost) @ v by forward-over-reverse: Rop of the gradient."""
    g = grad(cost, wrt)
    return Rop(g, wrt, v)


# ---------------------------------------------------------------------------------------------
# finite-difference check


def numeric_grad(fn, pt: list[np.ndarray], eps: float) -> list[np.ndarray]:
    """Central differences of the scalar fn at pt."""
    grads = []
    for i, p in enumerate(pt):
        g = np.zeros(p.shape, dtype="float64")
        flat = g.reshape(-1)
        base = [np.array(q, copy=True) for q in pt]
        pf = base[i].reshape(-1)
        for k in range(pf.size):
            orig = pf[k]
            pf[k] = orig + eps
            hi = float(fn(*base))
            pf[k] = orig - eps
            lo = float(fn(*base))
            pf[k] = orig
            flat[k] = (hi - lo) / (2 * eps)
        grads.append(g)
    return grads


def verify_grad(fun, pt, n_tests: int = 2, rng=None, eps: float | None = None,
                out_type=None, abs_tol: float | None = None, rel_tol: float | None = None,
                mode=None, cast_to_output_type: bool = False, no_debug_ref: bool = True) -> None:
    """Check the symbolic gradient of `fun` at `pt` against central finite differences.

    `fun` maps symbolic inputs (one per array in `pt`) to one symbolic output; the check
    projects the output on a random tensor, like Theano's verify_grad.  Raises GradientError
    naming the worst input and the max abs/rel errors.
    """
    from ccgrad.function import function

    if not isinstance(pt, list | tuple):
        raise TypeError("verify_grad: pt must be a list of numpy arrays")
    pt = [np.array(p) for p in pt]
    if rng is None:
        rng = np.random.default_rng(42)
    elif isinstance(rng, int):
        rng = np.random.default_rng(rng)
    for i, p in enumerate(pt):
        if p.dtype.kind != "f":
            raise TypeError(f"verify_grad: pt[{i}] has dtype {p.dtype}; finite differences need floats")
    low_precision = any(p.dtype == np.float32 for p in pt)
    if eps is None:
        eps = 1e-3 if low_precision else 1e-6
    abs_tol = (3e-2 if low_precision else 1e-5) if abs_tol is None else abs_tol
    rel_tol = (3e-2 if low_precision else 1e-5) if rel_tol is None else rel_tol

    inputs = [TensorType(p.dtype.name, shape=(None,) * p.ndim)(f"input {i}") for i, p in enumerate(pt)]
    out = fun(*inputs)
    if isinstance(out, list | tuple):
        raise TypeError("verify_grad: fun must return a single Variable")
    out = as_variable(out)
    kw = {} if mode is None else {"mode": mode}
    out_fn = function(inputs, out, on_unused_input="ignore", **kw)
    o_val = np.asarray(out_fn(*pt))
    proj_t = TensorType(out.dtype if out.dtype in dtypes.FLOATS else "float64",
                        shape=(None,) * out.ndim)("projection")
    cost = builder("sum")(builder("cast")(out, proj_t.dtype) * proj_t)
    cost_fn = function(inputs + [proj_t], cost, on_unused_input="ignore", **kw)
    g = grad(cost, inputs, disconnected_inputs="ignore")
    grad_fn = function(inputs + [proj_t], g, on_unused_input="ignore", **kw)

    for _ in range(n_tests):
        proj = rng.random(o_val.shape) + 0.5
        proj = proj.astype(proj_t.dtype)
        analytic = [np.asarray(a, dtype="float64") for a in grad_fn(*pt, proj)]
        numeric = numeric_grad(lambda *xs, _p=proj: cost_fn(*xs, _p), pt, eps)
        for i, (a, n) in enumerate(zip(analytic, numeric)):
            if a.shape != n.shape:
                raise GradientError(i, 0, a.shape, np.nan, np.nan, np.inf, np.inf, abs_tol, rel_tol)
            if a.size == 0:
                continue
            abs_err = np.abs(a - n)
            rel_err = abs_err / np.maximum(np.abs(a) + np.abs(n), 1e-8)
            bad = (abs_err > abs_tol) & (rel_err > rel_tol)
            if np.any(bad) or not np.all(np.isfinite(a)):
                pos = int(np.argmax(np.where(bad, rel_err, -1).reshape(-1)))
                raise GradientError(i, pos, a.shape, float(a.reshape(-1)[pos]),
                                    float(n.reshape(-1)[pos]), float(abs_err.max()),
                                    float(rel_err.max()), abs_tol, rel_tol)


def zero_grad(x: Variable) -> Variable:
    """x whose gradient is zero."""
    return builder("zero_grad")(x)


def disconnected_grad(x: Variable) -> Variable:
    """x through which no gradient flows (disconnected)."""
    return builder("disconnected_grad")(x)


def consider_constant(x: Variable) -> Variable:
    """x treated as a constant by grad."""
    return builder("consider_constant")(x)
