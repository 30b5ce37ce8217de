"""Jacobians and Hessians (Theano's T.jacobian / T.hessian): by default one vectorized sweep --
the vjp (or jvp) of the graph run on a batch of cotangents (tangents) forming the identity basis,
through the batch rules -- or Theano's construction, a scan over the rows.  Re-exported by
ccgrad.gradient, where users reach them."""

from __future__ import annotations

from ccgrad import dtypes
from ccgrad.gradient import (
    _as_list,
    _cast_float,
    _check_constants,
    _connected_from,
    _float_dtype,
    _pack,
    forward,
    grad,
    report_disconnected,
)
from ccgrad.graph import Constant, TensorType, Variable, as_variable, builder, register


@register("jacobian")
def jacobian(expression: Variable, wrt, consider_constant=None, disconnected_inputs: str = "raise",
             vectorize=None):
    """The Jacobian of `expression` w.r.t. `wrt` (Theano's T.jacobian): for each wrt, a tensor of
    shape expression.shape + wrt.shape with J[i..., j...] = d expression[i...] / d wrt[j...].

    `wrt` is a Variable (one result), a list (list) or a tuple (tuple); a 0-d expression gives
    plain gradients.  By default the Jacobian is one vectorized computation: the reverse sweep
    (vjp) run on a batch of cotangents forming the identity basis of expression's space, or, when
    static shapes show the Jacobian is tall (more outputs than inputs), the forward sweep (jvp) on
    the identity basis of wrt's space.  The basis is an `eye` node of the graph (never a
    constant array).  vectorize: None/True (choose), "reverse", "forward", or False for Theano's
    construction, a scan over the rows computing grad(expression[i], wrt).
    """
    expression = as_variable(expression)
    wrt_list, kind = _jacobian_args("jacobian", wrt, vectorize)
    if expression.ndim == 0:
        return grad(expression, wrt, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
    if vectorize is False:
        return _pack(_jacobian_scan(expression, wrt_list, consider_constant, disconnected_inputs), kind)
    method = vectorize if isinstance(vectorize, str) else _choose_mode(expression, wrt_list)
    if method == "reverse":
        jacs = _jacobian_reverse(expression, wrt_list, consider_constant, disconnected_inputs)
    else:
        jacs = [_jacobian_forward(expression, w, consider_constant, disconnected_inputs) for w in wrt_list]
    return _pack(jacs, kind)


@register("hessian")
def hessian(cost: Variable, wrt, consider_constant=None, disconnected_inputs: str = "raise", vectorize=None):
    """The Hessian of the scalar `cost` w.r.t. each wrt (Theano's T.hessian): the Jacobian of
    grad(cost, w) w.r.t. w, of shape w.shape + w.shape (only the diagonal blocks, as in Theano).

    By default forward-over-reverse, vectorized: the jvp of the gradient graph on the identity
    basis of w's space.  vectorize: None/True/"forward", "reverse" (reverse-over-reverse), or
    False for Theano's scan construction.
    """
    cost = as_variable(cost)
    if cost.ndim != 0:
        raise TypeError(f"hessian: cost must be a scalar (0-d); got a {cost.ndim}-d {cost.type!r}")
    wrt_list, kind = _jacobian_args("hessian", wrt, vectorize)
    out = []
    for w in wrt_list:
        g = grad(cost, w, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
        if vectorize is False:
            out.append(_jacobian_scan(g, [w], consider_constant, "ignore")[0])
        elif vectorize == "reverse":
            out.append(_jacobian_reverse(g, [w], consider_constant, "ignore")[0])
        else:
            out.append(_jacobian_forward(g, w, consider_constant, "ignore"))
    return _pack(out, kind)


def _jacobian_args(what: str, wrt, vectorize) -> tuple[list, str]:
    if vectorize not in (None, True, False, "reverse", "forward"):
        raise ValueError(f"{what}: vectorize must be None, True, False, 'reverse' or 'forward', got {vectorize!r}")
    wrt_list, kind = _as_list(wrt, "wrt")
    for i, w in enumerate(wrt_list):
        if not isinstance(w, Variable):
            raise TypeError(f"{what}: wrt[{i}] must be a Variable, got {type(w).__name__}")
    return wrt_list, kind


def _dims(v: Variable) -> list:
    """v's shape: Python ints where static, int64 scalars otherwise."""
    return [s if s is not None else builder("shape_i")(v, i) for i, s in enumerate(v.type.shape)]


def _size(dims: list):
    n = 1
    for d in dims:
        n = n * d  # Python ints stay ints; int64 scalars build a product
    return n


def _basis(v: Variable, dtype: str) -> Variable:
    """The standard basis of v's space, shape (v.size,) + v.shape: an `eye` node reshaped."""
    dims = _dims(v)
    n = _size(dims)
    e = builder("eye")(n, n, 0, dtype=dtype)
    return e if v.ndim == 1 else builder("reshape")(e, [n, *dims])


def _choose_mode(y: Variable, wrt: list[Variable]) -> str:
    """'forward' when static shapes show more outputs than inputs (a tall Jacobian), else 'reverse'."""
    m = _size(y.type.shape) if None not in y.type.shape else None
    sizes = [_size(w.type.shape) if None not in w.type.shape else None for w in wrt]
    if m is not None and None not in sizes and m > sum(sizes):
        return "forward"
    return "reverse"


def _zero_jacobian(y: Variable, w: Variable) -> Variable:
    zero = Constant(TensorType(_float_dtype(w), shape=()), 0)
    return builder("alloc")(zero, *_dims(y), *_dims(w))


def _jacobian_reverse(y: Variable, wrt: list[Variable], consider_constant, disconnected_inputs) -> list:
    """Every row at once: the vjp of y with a placeholder cotangent u, vectorized over u = basis."""
    from ccgrad.vectorize import vectorize_graph_flags

    dtype = _float_dtype(y)
    u = TensorType(dtype, shape=y.type.shape)("jacobian_cotangent")
    gs = grad(None, wrt, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs,
              known_grads={y: u}, add_names=False)
    rows, flags = vectorize_graph_flags(gs, {u: _basis(y, dtype)})
    out = []
    for w, r, b in zip(wrt, rows, flags):
        if not b:  # no path from u: a zero Jacobian (disconnected, or a zero derivative)
            out.append(_zero_jacobian(y, w))
        elif y.ndim != 1:
            out.append(builder("reshape")(r, _dims(y) + _dims(w)))
        else:
            out.append(r)
    return out


def _jacobian_forward(y: Variable, w: Variable, consider_constant, disconnected_inputs) -> Variable:
    """Every column at once: the jvp of y with a placeholder tangent v, vectorized over v = basis,
    then the batch axis moved last."""
    from ccgrad.vectorize import vectorize_graph_flags

    stop = [w, *_check_constants(consider_constant)]
    dtype = _float_dtype(w)
    v = TensorType(dtype, shape=w.type.shape)("jacobian_tangent")
    t = forward([y], {id(w): v}, stop=stop).get(id(y)) if w.dtype in dtypes.FLOATS else None
    if t is None:
        if id(y) not in _connected_from([y], [w]):
            msg = (f"jacobian: {y} does not depend on {w} ({w.type!r}) through a differentiable path; "
                   "pass disconnected_inputs='ignore' or 'warn' to allow this")
            report_disconnected(disconnected_inputs, msg, stacklevel=3)
        return _zero_jacobian(y, w)
    (cols,), (b,) = vectorize_graph_flags([t], {v: _basis(w, dtype)})
    if not b:
        return _zero_jacobian(y, w)
    jac = builder("dimshuffle")(cols, (*range(1, y.ndim + 1), 0))
    if w.ndim != 1:
        jac = builder("reshape")(jac, _dims(y) + _dims(w))
    return _cast_float(w, jac)


def _jacobian_scan(y: Variable, wrt: list[Variable], consider_constant, disconnected_inputs) -> list:
    """Theano's construction: scan over i computing grad(y[i], wrt) (y flattened first)."""
    try:
        from ccgrad.ops.scan import scan
    except ImportError as exc:
        raise NotImplementedError("jacobian(vectorize=False) needs ccgrad.ops.scan (not available)") from exc
    flat = y if y.ndim == 1 else builder("flatten")(y, 1)

    def row(i, expr, *ws):
        return [grad(expr[i], x, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
                for x in ws]

    jacs, updates = scan(row, sequences=builder("arange")(flat.shape[0]), non_sequences=[flat, *wrt],
                         return_list=True)
    if updates:
        raise RuntimeError("jacobian: the scan produced updates (it should not)")
    if y.ndim != 1:
        jacs = [builder("reshape")(j, _dims(y) + _dims(w)) for j, w in zip(jacs, wrt)]
    return list(jacs)
