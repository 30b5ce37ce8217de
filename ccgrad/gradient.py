"""Differentiation as graph-to-graph transforms: grad (reverse mode), Lop, Rop (forward mode),
hessian_vector_product.  jacobian and hessian live in ccgrad.jacobian and verify_grad (the
finite-difference check) in ccgrad.gradcheck; both are re-exported here.

Each op's vjp/jvp rule lives with the op; this module only walks the graph, sums cotangents and
brings each one back to its variable's type (summing broadcast axes, casting the dtype), so no
rule unbroadcasts by hand.  Results are ordinary graphs, so derivatives of derivatives work.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

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

__all__ = ["DisconnectedInputError", "DisconnectedType", "GradientError", "Lop", "NullTypeGradError",
           "Rop", "consider_constant", "disconnected_grad", "forward", "grad", "hessian",
           "hessian_vector_product", "jacobian", "match_type", "numeric_grad", "verify_grad", "zero_grad"]


class DisconnectedInputError(ValueError):
    """The cost does not depend (differentiably) on a variable grad was asked about."""


def report_disconnected(policy: str, msg: str, stacklevel: int = 2) -> None:
    """Apply a disconnected-input policy to `msg`: 'raise' raises DisconnectedInputError, 'warn'
    warns (stacklevel counted from the caller), 'ignore' does nothing."""
    if policy == "raise":
        raise DisconnectedInputError(msg)
    if policy == "warn":
        warnings.warn(msg, stacklevel=stacklevel + 1)


class NullTypeGradError(TypeError):
    """A gradient that is mathematically undefined reached one of the requested variables."""


class DisconnectedType:
    """What grad returns for a disconnected input with return_disconnected='Disconnected'.

    `g.type` is the object itself, so Theano's `isinstance(g.type, DisconnectedType)` works.
    """

    @property
    def type(self) -> DisconnectedType:
        return self

    def __repr__(self) -> str:
        return "DisconnectedType()"


_DISCONNECTED = object()  # internal marker: no differentiable path from the cost

# ---------------------------------------------------------------------------------------------
# helpers


def _as_list(x, what: str) -> tuple[list, str]:
    """(items, kind) where kind is 'single', 'list' or 'tuple'."""
    if isinstance(x, list):
        return list(x), "list"
    if isinstance(x, tuple):
        return list(x), "tuple"
    if isinstance(x, set | frozenset | dict):
        raise TypeError(
            f"{what} must be a Variable, a list or a tuple, not a {type(x).__name__} (sets have no "
            "order, so results could not be returned in a matching order)"
        )
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
        raise TypeError(f"gradient of ndim {g.ndim} ({g.type!r}) for variable {var} of ndim {var.ndim}")
    axes = tuple(i for i, (a, b) in enumerate(zip(var.type.shape, g.type.shape)) if a == 1 and b != 1)
    if axes:
        g = builder("sum")(g, axis=axes, keepdims=True)
    want = _float_dtype(var)
    if g.dtype != want:
        g = builder("cast")(g, want)
    return g


def _cast_float(var: Variable, g: Variable) -> Variable:
    """`g` in var's float dtype (a user-given gradient or tangent: no summing of axes)."""
    want = _float_dtype(var)
    return g if g.dtype == want else builder("cast")(g, want)


def _sum(terms: list[Variable]) -> Variable:
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def _check_point(i: int, var: Variable, point: Variable, what: str) -> None:
    """Evaluation points need var's ndim and compatible static lengths."""
    if point.ndim != var.ndim:
        raise ValueError(
            f"{what}: element {i} has mismatched dimensionality: {var} is {var.ndim}-d ({var.type!r}), "
            f"its evaluation point is {point.ndim}-d ({point.type!r})"
        )
    for axis, (a, b) in enumerate(zip(var.type.shape, point.type.shape)):
        if a is not None and b is not None and a != b:
            raise ValueError(
                f"{what}: element {i}: evaluation point of static shape {point.type.shape} does not match "
                f"{var} of static shape {var.type.shape} on axis {axis}"
            )


# ---------------------------------------------------------------------------------------------
# reverse mode


def grad(cost: Variable | None, wrt, consider_constant: Sequence[Variable] | None = None,
         disconnected_inputs: str = "raise", add_names: bool = True,
         known_grads: Mapping[Variable, Variable] | None = None,
         return_disconnected: str = "zero", null_gradients: str = "raise"):
    """Symbolic gradient of the scalar `cost` with respect to `wrt` (Theano's T.grad).

    `wrt` may be a Variable (one result), a list (list) or a tuple (tuple).  `consider_constant`
    lists variables the gradient does not flow *through* (their own gradient is still computed).
    `known_grads` maps variables to their gradients: such a variable's gradient is exactly the
    given one (the cost may then be None).  Disconnected inputs raise DisconnectedInputError,
    warn or are ignored (`disconnected_inputs`) and are returned as zeros, None or a
    DisconnectedType (`return_disconnected`); undefined gradients raise NullTypeGradError unless
    `null_gradients='return'`.  Gradients are named '(dcost/dx)' when both have names.
    """
    return _grad(cost, wrt, consider_constant, disconnected_inputs, add_names, known_grads,
                 return_disconnected, null_gradients, override_known=True)


def _grad(cost, wrt, consider_constant, disconnected_inputs, add_names, known_grads,
          return_disconnected, null_gradients, override_known: bool):
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError("disconnected_inputs must be 'raise', 'warn' or 'ignore', got "
                         f"{disconnected_inputs!r}")
    if return_disconnected not in ("zero", "None", "Disconnected", "disconnected"):
        raise ValueError(f"return_disconnected must be 'zero', 'None' or 'Disconnected', got {return_disconnected!r}")
    if null_gradients not in ("raise", "return"):
        raise ValueError(f"null_gradients must be 'raise' or 'return', got {null_gradients!r}")
    if cost is None and known_grads is None:
        raise AssertionError("grad: cost and known_grads can't both be None")
    if cost is not None:
        if not isinstance(cost, Variable):
            raise TypeError(f"grad: cost must be a Variable, got {type(cost).__name__}")
        if cost.ndim != 0:
            raise TypeError(
                f"grad: cost must be a scalar (0-d); got a {cost.ndim}-d {cost.type!r} (sum it, or "
                "use Lop/jacobian for non-scalar outputs)"
            )
    wrt_list, kind = _as_list(wrt, "wrt")
    for i, w in enumerate(wrt_list):
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt[{i}] must be a Variable, got {type(w).__name__}")
    stop = _check_constants(consider_constant)

    seeds: dict[int, tuple[Variable, list]] = {}

    def add_seed(v: Variable, g) -> None:
        if id(v) in seeds and override_known:
            seeds[id(v)] = (v, [g])
        else:
            seeds.setdefault(id(v), (v, []))[1].append(g)

    if cost is not None:
        add_seed(cost, builder("fill")(cost, Constant(TensorType(_float_dtype(cost), shape=()), 1.0)))
    foreign: set[int] = set()
    for k, g in (known_grads or {}).items():
        if not isinstance(k, Variable):
            raise TypeError(f"known_grads: keys must be Variables, got {type(k).__name__}")
        if not is_undefined(g):
            g = as_variable(g)
            if g.dtype not in dtypes.FLOATS:
                raise TypeError(f"known_grads: gradients must be floating point; got {g.type!r} for {k}")
            if g.ndim != k.ndim:
                raise ValueError(f"known_grads: gradient of ndim {g.ndim} for {k} of ndim {k.ndim}")
            foreign.add(id(g))
            g = _cast_float(k, g)
        add_seed(k, g)

    cost_name = cost.name if add_names and cost is not None else None
    results = _reverse(seeds, wrt_list, stop, override_known, cost_name, foreign)

    out = []
    for w, g in zip(wrt_list, results):
        if g is _DISCONNECTED:
            msg = (
                f"grad was asked for the gradient with respect to {w} ({w.type!r}), which is not part of "
                "the cost's graph or reaches it only through non-differentiable ops (shape, argmax, "
                "comparisons, disconnected_grad ...); pass disconnected_inputs='ignore' or 'warn' to allow this"
            )
            report_disconnected(disconnected_inputs, msg, stacklevel=3)
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
        if cost_name and w.name and isinstance(g, Variable) and id(g) not in foreign:
            g.name = f"(d{cost_name}/d{w.name})"
        out.append(g)
    return _pack(out, kind)


def _check_constants(consider_constant) -> list[Variable]:
    if consider_constant is None:
        return []
    if isinstance(consider_constant, Variable):
        raise TypeError("consider_constant must be a list of Variables, not a single Variable")
    try:
        items = list(consider_constant)
    except TypeError:
        raise TypeError(
            f"consider_constant must be an iterable of Variables, got {type(consider_constant).__name__}"
        ) from None
    for v in items:
        if not isinstance(v, Variable):
            raise TypeError(f"consider_constant: elements must be Variables, got {type(v).__name__}")
    return items


def _reverse(seeds: dict[int, tuple[Variable, list]], wrt: list[Variable], stop: list[Variable],
             override_known: bool, cost_name: str | None, foreign: set[int]) -> list:
    """The reverse sweep.  Returns, per wrt: a Variable, None (connected, zero gradient), an
    undefined marker, or _DISCONNECTED.

    Only nodes on a differentiable path from some wrt to some seed are differentiated: the
    gradient graph is linear in the size of the forward graph.
    """
    stop_ids = {id(v) for v in stop}
    order = toposort([v for v, _ in seeds.values()], stop=stop)
    patterns = {id(n): n.op.connection_pattern(n) for n in order}

    # Variables with a differentiable path to a seed.  A consider_constant variable is reached
    # (its own gradient exists) but nothing flows past it: toposort does not enter its owner.
    reaches: set[int] = set(seeds)
    for node in reversed(order):
        pattern = patterns[id(node)]
        outs = [id(o) in reaches and id(o) not in stop_ids for o in node.outputs]
        if not any(outs):
            continue
        for i, inp in enumerate(node.inputs):
            if any(pattern[i][j] and outs[j] for j in range(len(outs))):
                reaches.add(id(inp))
    # Variables with a differentiable path from some wrt: nothing else needs differentiating.
    depends: set[int] = {id(w) for w in wrt}
    for node in order:
        pattern = patterns[id(node)]
        for j, o in enumerate(node.outputs):
            if any(pattern[i][j] and id(inp) in depends for i, inp in enumerate(node.inputs)):
                depends.add(id(o))

    known_ids = set(seeds) if override_known else set()
    cot: dict[int, list] = {k: list(terms) for k, (_, terms) in seeds.items()}
    totals: dict[int, object] = {}

    def total(v: Variable):
        """The complete gradient on v (all its consumers are processed by the time it is asked)."""
        key = id(v)
        if key not in totals:
            terms = cot.get(key)
            undefined = [x for x in terms or () if is_undefined(x)]
            if not terms:
                t = None
            elif undefined:
                t = undefined[0]
            else:
                t = _sum(terms) if len(terms) > 1 else terms[0]
            if cost_name and v.name and isinstance(t, Variable) and id(t) not in foreign:
                t.name = f"(d{cost_name}/d{v.name})"
            totals[key] = t
        return totals[key]

    for node in reversed(order):
        if not any(id(o) in cot for o in node.outputs):
            continue
        needed = [id(inp) in depends and id(inp) in reaches and id(inp) not in known_ids
                  for inp in node.inputs]
        if not any(needed):
            continue
        couts = [None if id(o) in stop_ids or o.dtype not in dtypes.FLOATS else total(o)
                 for o in node.outputs]
        real = [None if is_undefined(c) else c for c in couts]
        if all(c is None for c in couts):
            continue
        pattern = patterns[id(node)]
        gins = [None] * len(node.inputs)
        if any(c is not None for c in real):
            gins = list(node.op.vjp(node, real))
            if len(gins) != len(node.inputs):
                raise RuntimeError(f"{node.op}.vjp returned {len(gins)} gradients for {len(node.inputs)} inputs")
        for i, inp in enumerate(node.inputs):
            if not needed[i] or not any(pattern[i]):
                continue
            bad = next((c for j, c in enumerate(couts) if is_undefined(c) and pattern[i][j]), None)
            g = bad if bad is not None else gins[i]
            if g is None:
                continue
            if not is_undefined(g):
                if inp.dtype not in dtypes.FLOATS:
                    continue  # integers get zero gradients (Theano's rule)
                g = as_variable(g)
                if g.ndim != inp.ndim:
                    raise TypeError(
                        f"{node.op}.vjp returned a gradient of ndim {g.ndim} ({g.type!r}) for input {i} "
                        f"({inp.type!r})"
                    )
                g = match_type(inp, g)
            cot.setdefault(id(inp), []).append(g)

    results = []
    for w in wrt:
        if id(w) not in reaches:
            results.append(_DISCONNECTED)
            continue
        g = total(w)
        if isinstance(g, Variable) and w.dtype in dtypes.FLOATS:
            g = match_type(w, g)
        results.append(g)
    return results


def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs: str = "raise"):
    """Row vector(s) `eval_points` times the Jacobian of `f` w.r.t. `wrt`:
    L[j] = sum_i eval_points[i] . d f[i] / d wrt[j].

    Each eval point has the shape of its `f`; each result has the shape of its `wrt` (a list or
    tuple when `wrt` is one).  Contributions of several `f` to one variable add up.
    """
    f_list, _ = _as_list(f, "f")
    e_list, _ = _as_list(eval_points, "eval_points")
    if len(f_list) != len(e_list):
        raise ValueError(f"Lop: {len(f_list)} outputs but {len(e_list)} evaluation points")
    known: dict[Variable, list] = {}
    for i, (fv, ev) in enumerate(zip(f_list, e_list)):
        if not isinstance(fv, Variable):
            raise TypeError(f"Lop: f[{i}] must be a Variable, got {type(fv).__name__}")
        ev = as_variable(ev)
        _check_point(i, fv, ev, "Lop")
        known.setdefault(fv, []).append(_cast_float(fv, ev))
    summed = {k: _sum(v) for k, v in known.items()}
    return _grad(None, wrt, consider_constant, disconnected_inputs, False, summed, "zero", "raise",
                 override_known=False)


# ---------------------------------------------------------------------------------------------
# forward mode


def Rop(f, wrt, eval_points, disconnected_outputs: str = "raise", return_disconnected: str = "zero"):
    """The Jacobian of `f` w.r.t. `wrt` times `eval_points`: R[i] = sum_j d f[i]/d wrt[j] . v[j].

    Built forward from each op's jvp rule (no reverse pass).  Each eval point has the shape of
    its `wrt`; results have the shape of `f` (a list or tuple when `f` is one).  Each eval point
    goes through a run-time check that it has wrt's shape, which also keeps `wrt` an input of
    the result (Theano compiles `function([W, V, x], Rop(dot(x, W), W, V))`).  Outputs that do
    not depend on `wrt` raise DisconnectedInputError / warn / are ignored per
    `disconnected_outputs` and are returned as zeros or None per `return_disconnected`.
    """
    if disconnected_outputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected_outputs must be 'raise', 'warn' or 'ignore', got {disconnected_outputs!r}")
    if return_disconnected not in ("zero", "None", "none", "Disconnected", "disconnected"):
        raise ValueError(f"return_disconnected must be 'zero', 'None' or 'Disconnected', got {return_disconnected!r}")
    f_list, f_kind = _as_list(f, "f")
    w_list, _ = _as_list(wrt, "wrt")
    e_list, _ = _as_list(eval_points, "eval_points")
    if len(w_list) != len(e_list):
        raise ValueError(f"Rop: {len(w_list)} wrt but {len(e_list)} evaluation points")
    f_list = [as_variable(fv) for fv in f_list]
    tangents: dict[int, Variable] = {}
    for i, (w, ev) in enumerate(zip(w_list, e_list)):
        if not isinstance(w, Variable):
            raise TypeError(f"Rop: wrt[{i}] must be a Variable, got {type(w).__name__}")
        ev = as_variable(ev)
        _check_point(i, w, ev, "Rop")
        ev = builder("specify_shape_like")(ev, w)
        if w.dtype in dtypes.FLOATS:
            ev = _cast_float(w, ev)
        tangents[id(w)] = ev
    tangents = forward(f_list, tangents, stop=w_list)
    out = []
    connected = None
    for fv in f_list:
        t = tangents.get(id(fv))
        if t is None:
            if connected is None:
                connected = _connected_from(f_list, w_list)
            if id(fv) in connected:
                t = _zeros_like_float(fv)  # depends on wrt, but with a zero derivative
            else:
                msg = (f"Rop: output {fv} ({fv.type!r}) does not depend on any of wrt through a "
                       "differentiable path")
                report_disconnected(disconnected_outputs, msg, stacklevel=2)
                if return_disconnected == "zero":
                    t = _zeros_like_float(fv)
                elif return_disconnected.lower() == "none":
                    t = None
                else:
                    t = DisconnectedType()
        out.append(t)
    return _pack(out, f_kind)


def forward(outputs: Sequence[Variable], tangents: dict[int, Variable],
            stop: Sequence[Variable] = ()) -> dict[int, Variable]:
    """Propagate `tangents` (id(var) -> tangent) through the graph of `outputs` with jvp rules.

    Returns the tangent of every reached float variable (absent means zero)."""
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
        if len(outs) != len(node.outputs):
            raise RuntimeError(f"{node.op}.jvp returned {len(outs)} tangents for {len(node.outputs)} outputs")
        for j, (o, t) in enumerate(zip(node.outputs, outs)):
            if t is None or o.dtype not in dtypes.FLOATS:
                continue
            if not any(ts[i] is not None and pattern[i][j] for i in range(len(ts))):
                continue
            t = as_variable(t)
            if t.ndim != o.ndim:
                raise TypeError(f"{node.op}.jvp returned a tangent of ndim {t.ndim} for output {j} ({o.type!r})")
            tangents[id(o)] = match_type(o, t)
    return tangents


def _connected_from(outputs: Sequence[Variable], wrt: Sequence[Variable]) -> set[int]:
    """ids of the variables with a differentiable path (connection patterns) from some wrt."""
    conn = {id(w) for w in wrt}
    for node in toposort(outputs, stop=wrt):
        pattern = node.op.connection_pattern(node)
        for j, o in enumerate(node.outputs):
            if any(pattern[i][j] and id(inp) in conn for i, inp in enumerate(node.inputs)):
                conn.add(id(o))
    return conn


def jvp_of(node: Apply, tangents: list) -> list:
    """The op's jvp rule, or (only for ops without one) the double-vjp construction."""
    try:
        return node.op.jvp(node, tangents)
    except NotImplementedError:
        return _double_vjp(node, tangents)


def _double_vjp(node: Apply, tangents: list) -> list:
    """J t from the vjp alone: u -> vjp(u) is linear in u, so J t = d/du <vjp(u), t>.

    The placeholder u is zeros shaped like the output (its value never matters), so the result
    needs no extra input.
    """
    results = []
    for j, o in enumerate(node.outputs):
        if o.dtype not in dtypes.FLOATS:
            results.append(None)
            continue
        u = builder("zeros_like")(o)
        gins = node.op.vjp(node, [u if k == j else None for k in range(len(node.outputs))])
        total = None
        for inp, g, t in zip(node.inputs, gins, tangents):
            if g is None or t is None or is_undefined(g) or inp.dtype not in dtypes.FLOATS:
                continue
            term = builder("sum")(match_type(inp, as_variable(g)) * t)
            total = term if total is None else total + term
        if total is None:
            results.append(None)
            continue
        # u as a "constant" stops the sweep at u instead of walking the whole forward graph.
        results.append(grad(total, u, consider_constant=[u], disconnected_inputs="ignore", add_names=False,
                            return_disconnected="None"))
    return results


def hessian_vector_product(cost: Variable, wrt, v, consider_constant=None,
                           disconnected_inputs: str = "raise"):
    """H(cost) @ v by forward-over-reverse (Rop of the gradient), without forming H.

    `wrt` and `v` are a Variable each, or lists/tuples of matching length (the result follows
    `wrt`)."""
    g = grad(cost, wrt, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
    return Rop(g, wrt, v, disconnected_outputs="ignore")

# ---------------------------------------------------------------------------------------------
# gradient-flow wrappers (the ops live in ccgrad/ops/gradops.py)


def zero_grad(x: Variable) -> Variable:
    """x in the forward pass; its gradient is zero (still connected: no DisconnectedInputError)."""
    return builder("zero_grad")(x)


def disconnected_grad(x: Variable) -> Variable:
    """x in the forward pass; gradients treat it as disconnected from the inputs it is built from."""
    return builder("disconnected_grad")(x)


def consider_constant(x: Variable) -> Variable:
    """Deprecated in Theano (use zero_grad or disconnected_grad): x whose gradient is truncated to
    zero; as in Theano the inputs behind it stay connected (zero gradients, no error)."""
    warnings.warn("consider_constant() is deprecated, use zero_grad() or disconnected_grad() instead",
                  DeprecationWarning, stacklevel=2)
    return builder("zero_grad")(x)


# The finite-difference check lives in its own module; users reach it here (Theano's place).
from ccgrad.gradcheck import GradientError, numeric_grad, verify_grad  # noqa: E402

# jacobian and hessian (built on grad and forward above) live in their own module; users reach them here.
from ccgrad.jacobian import hessian, jacobian  # noqa: E402
