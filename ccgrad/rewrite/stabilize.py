"""The stabilize phase: rewrites that keep results finite or accurate where the naive formula
overflows, underflows or cancels.  They change values only where the naive graph loses
precision or produces inf/NaN from finite inputs (each rule says where); elsewhere the results
agree to rounding.  The canonicalize rules run again in this phase, so patterns stay canonical
(e.g. -(-x) inside a new sigmoid argument disappears).
"""

from __future__ import annotations

from ccgrad import dtypes
from ccgrad.graph import Apply, Variable, builder
from ccgrad.rewrite.canonicalize import CANONICALIZE_RULES
from ccgrad.rewrite.engine import Phase, Rewriter, rule
from ccgrad.rewrite.rules import (
    const,
    elemwise_type,
    ew,
    is_const,
    join_factors,
    keep_type,
    like,
    mk,
    owner_is,
    remove_one,
    split_factors,
)


def _one_plus(v: Variable) -> Variable | None:
    """x when v = 1 + x (a float add of exactly a constant 1 and x), else None."""
    o = ew(v, "add")
    if o is None or len(o.inputs) != 2 or v.dtype not in dtypes.FLOATS:
        return None
    a, b = o.inputs
    if is_const(a, 1) and b.dtype == v.dtype:
        return b
    if is_const(b, 1) and a.dtype == v.dtype:
        return a
    return None


def _one_minus(v: Variable) -> Variable | None:
    """x when v = 1 - x (float), else None."""
    o = ew(v, "sub")
    if o is None or v.dtype not in dtypes.FLOATS or not is_const(o.inputs[0], 1):
        return None
    return o.inputs[1] if o.inputs[1].dtype == v.dtype else None


def _exp_arg(v: Variable) -> Variable | None:
    o = ew(v, "exp")
    return None if o is None else o.inputs[0]


@rule("log_exp", "log")
def log_exp(node: Apply, ctx: Rewriter):
    """log(exp(x)) -> x.  Removes the overflow: log(exp(800)) is inf, x stays 800."""
    z = _exp_arg(node.inputs[0])
    return None if z is None else like(z, node.outputs[0].type)


@rule("softplus_from_log", "log")
def softplus_from_log(node: Apply, ctx: Rewriter):
    """log(1 + exp(x)) -> softplus(x).  Finite for x = 800 (the naive form gives inf)."""
    u = _one_plus(node.inputs[0])
    z = None if u is None else _exp_arg(u)
    if z is None:
        return None
    return like(mk("softplus", z), node.outputs[0].type)


@rule("softplus_from_log1p", "log1p")
def softplus_from_log1p(node: Apply, ctx: Rewriter):
    """log1p(exp(x)) -> softplus(x)."""
    z = _exp_arg(node.inputs[0])
    return None if z is None else like(mk("softplus", z), node.outputs[0].type)


@rule("log_sigmoid", "log")
def log_sigmoid(node: Apply, ctx: Rewriter):
    """log(sigmoid(x)) -> -softplus(-x).  Finite for x = -800 (log(0) = -inf naively)."""
    o = ew(node.inputs[0], "sigmoid")
    if o is None:
        return None
    return like(mk("neg", mk("softplus", mk("neg", o.inputs[0]))), node.outputs[0].type)


@rule("log_one_minus_sigmoid", "log")
def log_one_minus_sigmoid(node: Apply, ctx: Rewriter):
    """log(1 - sigmoid(x)) -> -softplus(x).  Finite for x = 800."""
    s = _one_minus(node.inputs[0])
    o = None if s is None else ew(s, "sigmoid")
    if o is None:
        return None
    return like(mk("neg", mk("softplus", o.inputs[0])), node.outputs[0].type)


@rule("log1p_neg_sigmoid", "log1p")
def log1p_neg_sigmoid(node: Apply, ctx: Rewriter):
    """log1p(-sigmoid(x)) -> -softplus(x)."""
    n = ew(node.inputs[0], "neg")
    o = None if n is None else ew(n.inputs[0], "sigmoid")
    if o is None:
        return None
    return like(mk("neg", mk("softplus", o.inputs[0])), node.outputs[0].type)


@rule("log1p_from_log", "log")
def log1p_from_log(node: Apply, ctx: Rewriter):
    """log(1 + x) -> log1p(x) and log(1 - x) -> log1p(-x), for float x.  Accurate for tiny x
    (log(1 + 1e-20) is 0, log1p gives 1e-20)."""
    v = node.inputs[0]
    t = node.outputs[0].type
    x = _one_plus(v)
    if x is not None:
        return like(mk("log1p", x), t)
    x = _one_minus(v)
    if x is not None and elemwise_type("neg", [x]) is not None:
        return like(mk("log1p", mk("neg", x)), t)
    return None


@rule("expm1_from_exp", "sub")
def expm1_from_sub(node: Apply, ctx: Rewriter):
    """exp(x) - 1 -> expm1(x).  Accurate for tiny x."""
    a, b = node.inputs
    z = _exp_arg(a)
    if z is None or not is_const(b, 1):
        return None
    return like(mk("expm1", z), node.outputs[0].type)


@rule("expm1_from_add", "add")
def expm1_from_add(node: Apply, ctx: Rewriter):
    """-1 + exp(x) -> expm1(x)."""
    if len(node.inputs) != 2:
        return None
    a, b = node.inputs
    z = _exp_arg(b) if is_const(a, -1) else (_exp_arg(a) if is_const(b, -1) else None)
    return None if z is None else like(mk("expm1", z), node.outputs[0].type)


@rule("sigmoid_from_exp", "true_div")
def sigmoid_from_exp(node: Apply, ctx: Rewriter):
    """a / (1 + exp(z)) -> a * sigmoid(-z), and exp(z) / (1 + exp(z)) -> sigmoid(z), for such a
    factor anywhere in a product or quotient.  Finite where exp overflows (z = 800: the naive
    exp(z) / (1 + exp(z)) is NaN), and the exp is shared with every other sigmoid of z."""
    out = node.outputs[0]
    neg, num, den = split_factors(out)
    for d in den:
        e = _one_plus(d)
        z = None if e is None else _exp_arg(e)
        if z is None:
            continue
        den2 = remove_one(den, d) or []
        num2 = remove_one(num, e)
        if num2 is not None:
            new = num2 + [mk("sigmoid", z)]
        else:
            new = [f for f in num if not is_const(f, 1)] + [mk("sigmoid", mk("neg", z))]
        return keep_type(join_factors(neg, new, den2, out.dtype), d, out.type)
    return None


def _sigmoid_grad(node: Apply, ctx: Rewriter):
    """exp(z) / ((1 + exp(z)) * (1 + exp(z))) -> s * (1 - s) with s = sigmoid(-z), as a factor
    of any product/quotient: the derivative of the logistic reuses the forward sigmoid (one
    exp per element) and stays finite where exp(z) overflows (the naive form gives
    inf/inf = NaN at z = 800)."""
    t = node.outputs[0].type
    neg, num, den = split_factors(node.outputs[0])
    for e in num:
        z = _exp_arg(e)
        if z is None:
            continue
        ys = [d for d in den if _one_plus(d) is e]
        if len(ys) < 2:
            continue
        den2 = remove_one(remove_one(den, ys[0]) or [], ys[1])
        num2 = remove_one(num, e)
        if den2 is None or num2 is None:
            continue
        s = mk("sigmoid", mk("neg", z))
        res = join_factors(neg, num2 + [s, mk("sub", const(1, s.dtype, s.ndim), s)], den2, t.dtype)
        return keep_type(res, e, t)
    return None


sigmoid_grad = rule("sigmoid_grad", "true_div")(_sigmoid_grad)


@rule("log_sum_exp", "log")
def log_sum_exp(node: Apply, ctx: Rewriter):
    """log(sum(exp(x), axes)) -> m + log(sum(exp(x - m), axes)) with m = max(x, axes) (0 where
    m is infinite).  Finite for x = 800.  (An empty reduced axis then raises, as max does.)"""
    v = node.inputs[0]
    ds = owner_is(v, "DimShuffle")
    if ds is not None and "x" in ds.op.new_order and not ds.op.drop:
        v = ds.inputs[0]
    r = owner_is(v, "Reduce")
    if r is None or r.op.kind != "sum":
        return None
    x = _exp_arg(r.inputs[0])
    if x is None or x.dtype not in dtypes.FLOATS:
        return None
    axes = r.op.axis
    if _is_shifted_by_max(x, axes):
        return None
    m = builder("max")(x, axis=axes)
    m = mk("switch", mk("isinf", m), const(0, m.dtype, m.ndim), m)
    keep = tuple("x" if i in axes else sum(1 for a in range(i) if a not in axes) for i in range(x.ndim))
    mb = builder("dimshuffle")(m, keep)
    lse = mk("add", m, mk("log", builder("sum")(mk("exp", mk("sub", x, mb)), axis=axes)))
    if ds is not None:
        lse = builder("dimshuffle")(lse, ds.op.new_order)
    return like(lse, node.outputs[0].type)


def _is_shifted_by_max(x: Variable, axes: tuple[int, ...]) -> bool:
    """True when x = y - dimshuffle(m) with m = max(y, axes), possibly guarded by a switch:
    the shape log_sum_exp produces (so it does not fire on its own output)."""
    s = ew(x, "sub")
    if s is None:
        return False
    v = s.inputs[1]
    while True:  # peel the dimshuffle and the switch, in whichever order later rules left them
        ds = owner_is(v, "DimShuffle")
        sw = ew(v, "switch")
        if ds is not None:
            v = ds.inputs[0]
        elif sw is not None:
            v = sw.inputs[2]
        else:
            break
    r = owner_is(v, "Reduce")
    return r is not None and r.op.kind == "max" and r.op.axis == axes and r.inputs[0] is s.inputs[0]


def _reduce_keep(v: Variable, kind: str) -> tuple[Variable, int] | None:
    """(x, axis) when v = dimshuffle(kind(x, axis)) re-inserting the one reduced axis."""
    ds = owner_is(v, "DimShuffle")
    if ds is None:
        return None
    r = owner_is(ds.inputs[0], "Reduce")
    if r is None or r.op.kind != kind or len(r.op.axis) != 1:
        return None
    (axis,) = r.op.axis
    x = r.inputs[0]
    expect = tuple("x" if i == axis else (i if i < axis else i - 1) for i in range(x.ndim))
    if ds.op.new_order != expect:
        return None
    return x, axis


@rule("softmax_from_exp", "true_div")
def softmax_from_exp(node: Apply, ctx: Rewriter):
    """exp(x) / sum(exp(x), axis, keepdims) -> softmax(x, axis), also when x is shifted by its
    max along that axis.  Finite for x = 800 (the naive form gives inf/inf = NaN)."""
    a, b = node.inputs
    got = _reduce_keep(b, "sum")
    if got is None or got[0] is not a:
        return None
    x, axis = got
    z = _exp_arg(x)
    if z is None or z.dtype not in dtypes.FLOATS:
        return None
    s = ew(z, "sub")
    if s is not None:
        m = _reduce_keep(s.inputs[1], "max")
        if m is not None and m[0] is s.inputs[0] and m[1] == axis:
            z = s.inputs[0]
    return _nnet("softmax", z, axis, node.outputs[0].type)


@rule("log_softmax_from_log", "log")
def log_softmax_from_log(node: Apply, ctx: Rewriter):
    """log(softmax(x)) -> log_softmax(x).  Finite where softmax underflows to 0."""
    o = owner_is(node.inputs[0], "Softmax")
    if o is None:
        return None
    return _nnet("log_softmax", o.inputs[0], o.op.axis, node.outputs[0].type)


def _nnet(name: str, x: Variable, axis: int, t) -> Variable | None:
    try:
        fn = builder(name)
    except KeyError:
        return None
    return like(fn(x, axis=axis), t)


def _positive(v: Variable) -> bool:
    """True for values that are mathematically > 0 and finite (exp, sigmoid, 1 - sigmoid,
    1 + exp, softplus, softmax), which only rounding turns into 0 or inf: cancelling them is
    exact in real arithmetic."""
    if any(ew(v, name) is not None for name in ("exp", "sigmoid", "softplus")):
        return True
    s = _one_minus(v)
    if s is not None and ew(s, "sigmoid") is not None:
        return True
    e = _one_plus(v)
    if e is not None and ew(e, "exp") is not None:
        return True
    return owner_is(v, "Softmax") is not None


def _cancel(node: Apply, ctx: Rewriter):
    """(a * s) / s -> a for s = exp(.), sigmoid(.), softmax(.) and the other positive values
    of `_positive`, anywhere in a product or quotient.  Finite where s underflows to 0 (the
    naive form gives 0/0 = NaN), e.g. in the softmax cross-entropy gradient."""
    out = node.outputs[0]
    neg, num, den = split_factors(out)
    for s in den:
        if _positive(s):
            num2 = remove_one(num, s)
            if num2 is not None:
                res = join_factors(neg, num2, remove_one(den, s) or [], out.dtype)
                return keep_type(res, s, out.type)
    return None


cancel_in_div = rule("cancel_positive_factor", "true_div")(_cancel)
cancel_in_mul = rule("cancel_positive_factor_mul", "mul")(_cancel)


@rule("distribute_positive_factor", "mul")
def distribute_positive_factor(node: Apply, ctx: Rewriter):
    """s * (a - b) -> s*a - s*b (also for +) when s (exp, sigmoid, 1 - sigmoid, softmax, ...)
    divides a term: the softmax vjp of a log's cotangent, (g / sm - sum(g)) * sm, and the
    binary cross-entropy gradient through a sigmoid then cancel to finite terms."""
    ins = node.inputs
    t = node.outputs[0].type
    for i, s in enumerate(ins):
        if not _positive(s):
            continue
        for j, d in enumerate(ins):
            o = ew(d, "sub") or ew(d, "add")
            if j == i or o is None or d.dtype != t.dtype:
                continue
            if not any(any(f is s for f in split_factors(u)[2]) for u in o.inputs):
                continue
            terms = [mk("mul", s, u) for u in o.inputs]
            res = mk(o.op.scalar_op, *terms)
            others = [v for k, v in enumerate(ins) if k not in (i, j)]
            if others:
                res = mk("mul", *others, res)
            return keep_type(res, s, t)
    return None


STABILIZE_RULES = [
    log_exp,
    softplus_from_log,
    softplus_from_log1p,
    log_sigmoid,
    log_one_minus_sigmoid,
    log1p_neg_sigmoid,
    log_softmax_from_log,
    log_sum_exp,
    log1p_from_log,
    expm1_from_sub,
    expm1_from_add,
    sigmoid_grad,
    sigmoid_from_exp,
    softmax_from_exp,
    cancel_in_div,
    cancel_in_mul,
    distribute_positive_factor,
]

STABILIZE = Phase("stabilize", STABILIZE_RULES + CANONICALIZE_RULES)
