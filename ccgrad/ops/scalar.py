"""The scalar-op table: one row (a ScalarOp) per elementwise function, holding all its facts --
dtype rule, numpy reference, vjp, jvp, C expression and printing -- plus cast_op (one row per
target dtype) and the C-expression helpers the rows share (c_cast).  The Elemwise op
(ccgrad.ops.elemwise) applies a row over broadcast tensors and registers one builder per row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Variable, builder

# ---------------------------------------------------------------------------------------------
# Scalar op rows


@dataclass(frozen=True, eq=False)
class ScalarOp:
    """One elementwise function.  Rules take and return graph Variables.

    - out: dtype rule: 'upcast' (numpy promotion), 'upcast_int' (promotion, but bool becomes
      int8: numpy's //, %, ** and square on bools), 'float' (promotion, then to a float, Theano's
      rule for transcendental functions), 'truediv' (numpy's /), 'bool' (comparisons and
      predicates), 'last' (dtype of the last input: fill), 'switch', or a dtype name (cast).
    - impl(*arrays) -> array: numpy reference (result is cast to the rule's dtype).
    - vjp(inputs, out, gz) -> one Variable/None per input.   jvp(inputs, out, tangents) -> Variable/None.
    - c(args, in_dtypes, out_dtype) -> C expression computing the value in out_dtype.
    - c8(args) -> the same on 8 float64 lanes (`ccg_v8d` operands, csrc/ccgrad_vmath.h), bit
      for bit, for the rows that have one: rows whose float64 result is computed from their
      inputs converted to float64 (ccgrad.lower.loops converts them and inlines ccgrad's
      vector math into generated loops).
    - infix: printing symbol for binary (or n-ary) ops; prefix '-' for neg; else functional.
    """

    name: str
    nin: int  # -1: n-ary (add, mul)
    impl: Callable
    out: str
    c: Callable[[list[str], list[str], str], str]
    vjp: Callable | None = None
    jvp: Callable | None = None
    infix: str | None = None
    inputs: str = "any"  # 'any' | 'int' (integers/bool only) | 'nobool'
    commutative: bool = False
    associative: bool = False
    identity: float | None = None  # neutral element (add 0, mul 1)
    param: object = None  # e.g. the target dtype of a cast
    props: dict = field(default_factory=dict)
    promote_from: int = 0  # inputs before this index (switch's condition) do not promote dtypes
    c8: Callable[[list[str]], str] | None = None

    def __eq__(self, other) -> bool:
        return isinstance(other, ScalarOp) and self.name == other.name and self.param == other.param

    def __hash__(self) -> int:
        return hash((self.name, self.param))

    def __str__(self) -> str:
        return self.name if self.param is None else f"{self.name}{{{self.param}}}"

    def out_dtype(self, in_dtypes: Sequence[str]) -> str:
        rule = self.out
        if rule == "upcast":
            return dtypes.upcast(*in_dtypes)
        if rule == "upcast_int":
            up = dtypes.upcast(*in_dtypes)
            return "int8" if up == "bool" else up
        if rule == "float":
            return dtypes.upcast_to_float(dtypes.upcast(*in_dtypes))
        if rule == "truediv":
            up = dtypes.upcast(*in_dtypes)
            return up if up in dtypes.FLOATS else "float64"
        if rule == "bool":
            return "bool"
        if rule == "last":
            return in_dtypes[-1]
        if rule == "switch":
            return dtypes.upcast(*in_dtypes[1:])
        return rule

    def check_inputs(self, in_dtypes: Sequence[str]) -> None:
        if self.inputs == "int" and any(d in dtypes.FLOATS for d in in_dtypes):
            raise TypeError(
                f"{self.name} is a bitwise/logical op: it needs integer or bool inputs, got "
                f"{', '.join(in_dtypes)}"
            )
        # numpy refuses only when the computation itself would be on bools (bool - int8 is fine).
        if self.inputs == "nobool" and dtypes.upcast(*in_dtypes) == "bool":
            raise TypeError(
                f"{self.name} is not defined for bool inputs (numpy refuses it too); use xor / "
                "invert for logical operations or cast to an integer dtype first"
            )


SCALAR_OPS: dict[str, ScalarOp] = {}


def _row(op: ScalarOp) -> ScalarOp:
    SCALAR_OPS[op.name] = op
    return op


# -- C helpers (all expressions; loops and declarations belong to ccgrad.lower)


def c_cast(expr: str, frm: str, to: str) -> str:
    """C expression converting `expr` of dtype `frm` to dtype `to` with numpy's semantics."""
    if frm == to:
        return expr
    if to == "bool":
        return f"((uint8_t)(({expr}) != 0))"
    return f"(({dtypes.c_type(to)})({expr}))"


def _args_as(args: list[str], in_dtypes: list[str], dt: str) -> list[str]:
    return [c_cast(a, d, dt) for a, d in zip(args, in_dtypes)]


def _fmath(fn: str) -> Callable[[list[str], list[str], str], str]:
    """C for a libm function applied in the output float type (expf for float32)."""

    def emit(args, in_dtypes, out):
        a = _args_as(args, in_dtypes, out)
        name = fn + ("f" if out == "float32" else "")
        return f"{name}({', '.join(a)})"

    return emit


def _rt(fn: str) -> Callable[[list[str], list[str], str], str]:
    """C for a ccgrad runtime helper, suffixed by the C type: ccg_sigmoid_f64(x)."""

    def emit(args, in_dtypes, out):
        a = _args_as(args, in_dtypes, out)
        return f"ccg_{fn}_{_SUFFIX[out]}({', '.join(a)})"

    return emit


_SUFFIX = {"float32": "f32", "float64": "f64", "int8": "i8", "int16": "i16", "int32": "i32",
           "int64": "i64", "uint8": "u8", "bool": "b"}


# Integer arithmetic runs in the unsigned type of at least 32 bits and is converted back: that
# is numpy's wrap-around, whereas signed overflow in C is undefined behaviour.
_UNSIGNED = {"int8": "uint32_t", "int16": "uint32_t", "int32": "uint32_t", "int64": "uint64_t",
             "uint8": "uint32_t"}


def _wrapping(sym: str, a: list[str], out: str) -> str:
    """`a[0] sym a[1] sym ...` in dtype `out`, wrapping like numpy for integers."""
    if out in dtypes.FLOATS:
        return "(" + f" {sym} ".join(a) + ")"
    u = _UNSIGNED[out]
    return f"(({dtypes.c_type(out)})(" + f" {sym} ".join(f"({u})({x})" for x in a) + "))"


def _binop(sym: str, bool_sym: str | None = None) -> Callable[[list[str], list[str], str], str]:
    """C for + - *; on bools numpy's + is logical or and * logical and (`bool_sym`)."""

    def emit(args, in_dtypes, out):
        a = _args_as(args, in_dtypes, out)
        if out == "bool":
            return "((uint8_t)(" + f" {bool_sym} ".join(a) + "))"
        return _wrapping(sym, a, out)

    return emit


def _cmp(sym: str) -> Callable[[list[str], list[str], str], str]:
    def emit(args, in_dtypes, out):
        dt = dtypes.upcast(*in_dtypes)
        a = _args_as(args, in_dtypes, dt)
        return f"((uint8_t)({a[0]} {sym} {a[1]}))"

    return emit


def _logic(sym: str) -> Callable[[list[str], list[str], str], str]:
    """Bitwise for integers, logical for bools (numpy's &, |, ^)."""

    def emit(args, in_dtypes, out):
        a = _args_as(args, in_dtypes, out)
        return f"(({dtypes.c_type(out)})({a[0]} {sym} {a[1]}))"

    return emit


def _float_impl(fn: Callable) -> Callable:
    """numpy reference computed in the promoted float dtype."""

    def impl(*xs):
        dt = dtypes.upcast_to_float(dtypes.upcast(*[x.dtype.name for x in xs]))
        return fn(*[np.asarray(x, dtype=dt) for x in xs])

    return impl


# -- graph helpers used by the rules


def _sum_terms(terms: list) -> Variable | None:
    terms = [t for t in terms if t is not None]
    if not terms:
        return None
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def _is_float(v: Variable) -> bool:
    return v.dtype in dtypes.FLOATS


def _fgrad(v: Variable, g):
    """Only float inputs receive gradients (integer inputs are constants to the derivative)."""
    return g if _is_float(v) else None


def _mul_t(t, f):
    """t * f where t may be None (zero tangent)."""
    return None if t is None else t * f


# ---------------------------------------------------------------------------------------------
# The rows.  Rules are written with the same ops users write, so they differentiate again.


def _add_vjp(xs, out, gz):
    return [_fgrad(x, gz) for x in xs]


def _add_jvp(xs, out, ts):
    return _sum_terms(list(ts))


def _lanes(c: Callable[[list[str], list[str], str], str]) -> Callable[[list[str]], str]:
    """c8 of a row whose float64 C expression is plain arithmetic: that expression, which GCC's
    vector types also take."""
    return lambda a: c(a, ["float64"] * len(a), "float64")


_add_c = _binop("+", "|")
_row(ScalarOp("add", -1, lambda *xs: _reduce(np.add, xs), "upcast", _add_c, _add_vjp, _add_jvp,
              infix="+", commutative=True, associative=True, identity=0, c8=_lanes(_add_c)))


def _reduce(f, xs):
    """Fold an n-ary add/mul left to right in the result dtype (as the C code does), so that
    e.g. add(1, f32, f64) does not round the first partial sum to float32."""
    dt = np.result_type(*xs)
    xs = [np.asarray(x, dtype=dt) for x in xs]
    out = xs[0]
    for x in xs[1:]:
        out = f(out, x)
    return out


def _mul_vjp(xs, out, gz):
    res = []
    for i, x in enumerate(xs):
        others = [xs[j] for j in range(len(xs)) if j != i]
        g = gz
        for o in others:
            g = g * o
        res.append(_fgrad(x, g))
    return res


def _mul_jvp(xs, out, ts):
    terms = []
    for i, t in enumerate(ts):
        if t is None:
            continue
        term = t
        for j, x in enumerate(xs):
            if j != i:
                term = term * x
        terms.append(term)
    return _sum_terms(terms)


_mul_c = _binop("*", "&")
_row(ScalarOp("mul", -1, lambda *xs: _reduce(np.multiply, xs), "upcast", _mul_c, _mul_vjp,
              _mul_jvp, infix="*", commutative=True, associative=True, identity=1, c8=_lanes(_mul_c)))

_sub_c = _binop("-")
_row(ScalarOp("sub", 2, np.subtract, "upcast", _sub_c,
              lambda xs, out, gz: [_fgrad(xs[0], gz), _fgrad(xs[1], -gz)],
              lambda xs, out, ts: _sum_terms([ts[0], None if ts[1] is None else -ts[1]]),
              infix="-", inputs="nobool", c8=_lanes(_sub_c)))


def _true_div_vjp(xs, out, gz):
    x, y = xs
    return [_fgrad(x, gz / y), _fgrad(y, -(gz * x) / (y * y))]


def _true_div_jvp(xs, out, ts):
    x, y = xs
    return _sum_terms([None if ts[0] is None else ts[0] / y,
                       None if ts[1] is None else -(ts[1] * x) / (y * y)])


def _true_div_c(args, in_dtypes, out):
    a = _args_as(args, in_dtypes, out)
    return f"({a[0]} / {a[1]})"


_row(ScalarOp("true_div", 2, lambda x, y: np.true_divide(x, y), "truediv", _true_div_c,
              _true_div_vjp, _true_div_jvp, infix="/", c8=_lanes(_true_div_c)))


def _int_div_c(args, in_dtypes, out):
    # numpy's floor division: x // 0 == 0 for integers, +-inf/nan for floats (see ccgrad_rt.h).
    a = _args_as(args, in_dtypes, out)
    return f"ccg_floordiv_{_SUFFIX[out]}({a[0]}, {a[1]})"


def _int_div_impl(x, y):
    with np.errstate(all="ignore"):
        return np.floor_divide(x, y)


# Piecewise constant: zero derivative away from the jumps (as Theano).
_row(ScalarOp("int_div", 2, _int_div_impl, "upcast_int", _int_div_c,
              lambda xs, out, gz: [None, None], lambda xs, out, ts: None, infix="//"))


def _mod_c(args, in_dtypes, out):
    a = _args_as(args, in_dtypes, out)
    return f"ccg_mod_{_SUFFIX[out]}({a[0]}, {a[1]})"


def _mod_vjp(xs, out, gz):
    x, y = xs
    # x mod y = x - floor(x/y)*y: d/dx = 1, d/dy = -floor(x/y)  (away from the jumps)
    return [_fgrad(x, gz), _fgrad(y, -gz * builder("floor")(x / y))]


def _mod_jvp(xs, out, ts):
    x, y = xs
    return _sum_terms([ts[0], None if ts[1] is None else -ts[1] * builder("floor")(x / y)])


def _mod_impl(x, y):
    with np.errstate(all="ignore"):
        return np.mod(x, y)


_row(ScalarOp("mod", 2, _mod_impl, "upcast_int", _mod_c, _mod_vjp, _mod_jvp, infix="%"))


def _pow_vjp(xs, out, gz):
    x, y = xs
    gx = (gz * y) * (x ** (y - 1)) if _is_float(x) else None
    gy = (gz * builder("log")(x)) * out if _is_float(y) else None
    return [gx, gy]


def _pow_jvp(xs, out, ts):
    x, y = xs
    return _sum_terms([None if ts[0] is None else (ts[0] * y) * (x ** (y - 1)),
                       None if ts[1] is None else (ts[1] * builder("log")(x)) * out])


def _pow_c(args, in_dtypes, out):
    a = _args_as(args, in_dtypes, out)
    if out in dtypes.FLOATS:
        return f"{'powf' if out == 'float32' else 'pow'}({a[0]}, {a[1]})"
    return f"ccg_ipow_{_SUFFIX[out]}({a[0]}, {a[1]})"


def _pow_impl(x, y):
    dt = np.result_type(x, y)
    if dt.kind in "iu":
        # Integers to negative powers: 1 / x**|y| truncated toward zero (0 unless |x| == 1),
        # the same as the C helper, where numpy would raise.
        x = np.asarray(x, dtype=dt)
        y = np.asarray(y, dtype=dt)
        neg = y < 0
        with np.errstate(all="ignore"):
            pos = np.power(x, np.where(neg, 0, y))
            inv = np.where(x == 1, 1, np.where(x == -1, np.where(y % 2 == 0, 1, -1), 0))
        return np.where(neg, inv, pos).astype(dt)
    with np.errstate(all="ignore"):
        return np.power(x, y)


_row(ScalarOp("pow", 2, _pow_impl, "upcast_int", _pow_c, _pow_vjp, _pow_jvp, infix="**"))


def _neg_c(args, in_dtypes, out):
    a = c_cast(args[0], in_dtypes[0], out)
    if out in dtypes.FLOATS:
        return f"(-{a})"
    u = _UNSIGNED[out]  # wraps like numpy: -(-128) == -128 in int8, -(1) == 255 in uint8
    return f"(({dtypes.c_type(out)})(({u})0 - ({u})({a})))"


_row(ScalarOp("neg", 1, np.negative, "upcast", _neg_c,
              lambda xs, out, gz: [_fgrad(xs[0], -gz)],
              lambda xs, out, ts: None if ts[0] is None else -ts[0], infix="-", inputs="nobool",
              c8=_lanes(_neg_c)))


def _abs_c(args, in_dtypes, out):
    a = c_cast(args[0], in_dtypes[0], out)
    if out in dtypes.FLOATS:
        return f"{'fabsf' if out == 'float32' else 'fabs'}({a})"
    if out in ("uint8", "bool"):
        return a
    return f"ccg_abs_{_SUFFIX[out]}({a})"


_row(ScalarOp("abs", 1, np.abs, "upcast", _abs_c,
              lambda xs, out, gz: [_fgrad(xs[0], gz * builder("sign")(xs[0]))],
              lambda xs, out, ts: _mul_t(ts[0], builder("sign")(xs[0]))))


def _sign_impl(x):
    return np.sign(x)


_row(ScalarOp("sign", 1, _sign_impl, "upcast", _rt("sign"),
              lambda xs, out, gz: [None], lambda xs, out, ts: None, inputs="nobool"))


def _unary_float(name, np_fn, vjp_fn, jvp_fn, c=None, **kw):
    """A transcendental row: float output; vjp/jvp given as d(out)/d(x) in terms of (x, out)."""

    def vjp(xs, out, gz):
        return [_fgrad(xs[0], gz * vjp_fn(xs[0], out))]

    def jvp(xs, out, ts):
        return _mul_t(ts[0], jvp_fn(xs[0], out))

    return _row(ScalarOp(name, 1, _float_impl(np_fn), "float", c or _fmath(name), vjp, jvp, **kw))


def _b(name):
    return builder(name)


def _own_f64(fn: str) -> Callable[[list[str], list[str], str], str]:
    """C for exp/tanh: ccgrad's own ccg_<fn> in float64 (csrc/ccgrad_vmath.h), libm in float32."""

    def emit(args, in_dtypes, out):
        if out == "float32":
            return _fmath(fn)(args, in_dtypes, out)
        return f"ccg_{fn}({_args_as(args, in_dtypes, out)[0]})"

    return emit


def _vmath8(fn: str) -> Callable[[list[str]], str]:
    """c8 of a row computed by ccgrad's vector math: its inlined 8-lane form ccg_<fn>_v8."""
    return lambda a: f"ccg_{fn}_v8({a[0]})"


_unary_float("exp", np.exp, lambda x, o: o, lambda x, o: o, c=_own_f64("exp"), c8=_vmath8("exp"))
_unary_float("exp2", np.exp2, lambda x, o: o * math.log(2.0), lambda x, o: o * math.log(2.0))
_unary_float("expm1", np.expm1, lambda x, o: o + 1, lambda x, o: o + 1)
_unary_float("log", np.log, lambda x, o: 1 / x, lambda x, o: 1 / x)
_unary_float("log2", np.log2, lambda x, o: 1 / (x * math.log(2.0)), lambda x, o: 1 / (x * math.log(2.0)))
_unary_float("log10", np.log10, lambda x, o: 1 / (x * math.log(10.0)),
             lambda x, o: 1 / (x * math.log(10.0)))
_unary_float("log1p", np.log1p, lambda x, o: 1 / (1 + x), lambda x, o: 1 / (1 + x))
_unary_float("sqrt", np.sqrt, lambda x, o: 0.5 / o, lambda x, o: 0.5 / o)
_unary_float("sin", np.sin, lambda x, o: _b("cos")(x), lambda x, o: _b("cos")(x))
_unary_float("cos", np.cos, lambda x, o: -_b("sin")(x), lambda x, o: -_b("sin")(x))
_unary_float("tan", np.tan, lambda x, o: 1 + o * o, lambda x, o: 1 + o * o)
_unary_float("arcsin", np.arcsin, lambda x, o: 1 / _b("sqrt")(1 - x * x),
             lambda x, o: 1 / _b("sqrt")(1 - x * x), c=_fmath("asin"))
_unary_float("arccos", np.arccos, lambda x, o: -1 / _b("sqrt")(1 - x * x),
             lambda x, o: -1 / _b("sqrt")(1 - x * x), c=_fmath("acos"))
_unary_float("arctan", np.arctan, lambda x, o: 1 / (1 + x * x), lambda x, o: 1 / (1 + x * x),
             c=_fmath("atan"))
_unary_float("sinh", np.sinh, lambda x, o: _b("cosh")(x), lambda x, o: _b("cosh")(x))
_unary_float("cosh", np.cosh, lambda x, o: _b("sinh")(x), lambda x, o: _b("sinh")(x))
_unary_float("tanh", np.tanh, lambda x, o: 1 - o * o, lambda x, o: 1 - o * o, c=_own_f64("tanh"),
             c8=_vmath8("tanh"))
_unary_float("arcsinh", np.arcsinh, lambda x, o: 1 / _b("sqrt")(x * x + 1),
             lambda x, o: 1 / _b("sqrt")(x * x + 1), c=_fmath("asinh"))
_unary_float("arccosh", np.arccosh, lambda x, o: 1 / _b("sqrt")(x * x - 1),
             lambda x, o: 1 / _b("sqrt")(x * x - 1), c=_fmath("acosh"))
_unary_float("arctanh", np.arctanh, lambda x, o: 1 / (1 - x * x), lambda x, o: 1 / (1 - x * x),
             c=_fmath("atanh"))


def _sigmoid_np(x):
    # Stable in both directions: exp of a non-positive number only.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus_np(x):
    return np.logaddexp(np.zeros_like(x), x)


_unary_float("sigmoid", _sigmoid_np, lambda x, o: o * (1 - o), lambda x, o: o * (1 - o),
             c=_rt("sigmoid"), c8=_vmath8("sigmoid"))
_unary_float("softplus", _softplus_np, lambda x, o: _b("sigmoid")(x), lambda x, o: _b("sigmoid")(x),
             c=_rt("softplus"))

_erf_u = np.frompyfunc(math.erf, 1, 1)
_erfc_u = np.frompyfunc(math.erfc, 1, 1)


def _erf_np(x):
    # frompyfunc returns a Python float (not an array) for 0-d input: go through asarray.
    return np.asarray(_erf_u(x), dtype="float64").astype(x.dtype)


def _erfc_np(x):
    return np.asarray(_erfc_u(x), dtype="float64").astype(x.dtype)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_unary_float("erf", _erf_np, lambda x, o: _TWO_OVER_SQRT_PI * _b("exp")(-(x * x)),
             lambda x, o: _TWO_OVER_SQRT_PI * _b("exp")(-(x * x)))
_unary_float("erfc", _erfc_np, lambda x, o: -_TWO_OVER_SQRT_PI * _b("exp")(-(x * x)),
             lambda x, o: -_TWO_OVER_SQRT_PI * _b("exp")(-(x * x)))


def _arctan2_vjp(xs, out, gz):
    y, x = xs
    den = x * x + y * y
    return [_fgrad(y, gz * x / den), _fgrad(x, -gz * y / den)]


def _arctan2_jvp(xs, out, ts):
    y, x = xs
    den = x * x + y * y
    return _sum_terms([None if ts[0] is None else ts[0] * x / den,
                       None if ts[1] is None else -ts[1] * y / den])


_row(ScalarOp("arctan2", 2, _float_impl(np.arctan2), "float", _fmath("atan2"), _arctan2_vjp,
              _arctan2_jvp))


def _rounding(name, np_fn, cname):
    def c(args, in_dtypes, out):
        a = c_cast(args[0], in_dtypes[0], out)
        if out not in dtypes.FLOATS:
            return a
        return f"{cname}{'f' if out == 'float32' else ''}({a})"

    _row(ScalarOp(name, 1, np_fn, "upcast", c, lambda xs, out, gz: [None],
                  lambda xs, out, ts: None))


_rounding("floor", np.floor, "floor")
_rounding("ceil", np.ceil, "ceil")
_rounding("round", np.round, "rint")  # half to even, like numpy
_rounding("trunc", np.trunc, "trunc")


def _minmax_vjp(xs, out, gz):
    a, b = xs
    eq = _b("eq")
    return [_fgrad(a, gz * eq(out, a)), _fgrad(b, gz * eq(out, b))]


def _minmax_jvp(xs, out, ts):
    a, b = xs
    eq = _b("eq")
    return _sum_terms([None if ts[0] is None else ts[0] * eq(out, a),
                       None if ts[1] is None else ts[1] * eq(out, b)])


def _minmax_c(kind):
    def emit(args, in_dtypes, out):
        a = _args_as(args, in_dtypes, out)
        return f"ccg_{kind}_{_SUFFIX[out]}({a[0]}, {a[1]})"

    return emit


_row(ScalarOp("maximum", 2, np.maximum, "upcast", _minmax_c("max"), _minmax_vjp, _minmax_jvp,
              commutative=True))
_row(ScalarOp("minimum", 2, np.minimum, "upcast", _minmax_c("min"), _minmax_vjp, _minmax_jvp,
              commutative=True))


def _clip_vjp(xs, out, gz):
    x, lo, hi = xs
    ge, le, lt, gt = _b("ge"), _b("le"), _b("lt"), _b("gt")
    return [_fgrad(x, gz * (ge(x, lo) * le(x, hi))), _fgrad(lo, gz * lt(x, lo)),
            _fgrad(hi, gz * gt(x, hi))]


def _clip_jvp(xs, out, ts):
    x, lo, hi = xs
    ge, le, lt, gt = _b("ge"), _b("le"), _b("lt"), _b("gt")
    return _sum_terms([_mul_t(ts[0], ge(x, lo) * le(x, hi)), _mul_t(ts[1], lt(x, lo)),
                       _mul_t(ts[2], gt(x, hi))])


def _clip_impl(x, lo, hi):
    # numpy.clip semantics: minimum(maximum(x, lo), hi)
    return np.minimum(np.maximum(x, lo), hi)


def _clip_c(args, in_dtypes, out):
    x, lo, hi = _args_as(args, in_dtypes, out)
    sfx = _SUFFIX[out]
    return f"ccg_min_{sfx}(ccg_max_{sfx}({x}, {lo}), {hi})"


_row(ScalarOp("clip", 3, _clip_impl, "upcast", _clip_c, _clip_vjp, _clip_jvp))


def _cmp_row(name, np_fn, sym):
    _row(ScalarOp(name, 2, np_fn, "bool", _cmp(sym), lambda xs, out, gz: [None, None],
                  lambda xs, out, ts: None, infix=sym, commutative=name in ("eq", "neq")))


_cmp_row("lt", np.less, "<")
_cmp_row("le", np.less_equal, "<=")
_cmp_row("gt", np.greater, ">")
_cmp_row("ge", np.greater_equal, ">=")
_cmp_row("eq", np.equal, "==")
_cmp_row("neq", np.not_equal, "!=")


def _logic_row(name, np_fn, sym, pp):
    _row(ScalarOp(name, 2, np_fn, "upcast", _logic(sym), lambda xs, out, gz: [None, None],
                  lambda xs, out, ts: None, infix=pp, inputs="int", commutative=True,
                  associative=True))


_logic_row("and_", np.bitwise_and, "&", "&")
_logic_row("or_", np.bitwise_or, "|", "|")
_logic_row("xor", np.bitwise_xor, "^", "^")


def _invert_c(args, in_dtypes, out):
    a = c_cast(args[0], in_dtypes[0], out)
    if out == "bool":
        return f"((uint8_t)!({a}))"
    return f"(({dtypes.c_type(out)})~({a}))"


_row(ScalarOp("invert", 1, np.invert, "upcast", _invert_c, lambda xs, out, gz: [None],
              lambda xs, out, ts: None, inputs="int"))


def _pred_c(fn):
    def emit(args, in_dtypes, out):
        if in_dtypes[0] not in dtypes.FLOATS:
            return "((uint8_t)0)"
        return f"((uint8_t)({fn}({args[0]}) != 0))"

    return emit


_row(ScalarOp("isnan", 1, np.isnan, "bool", _pred_c("isnan"), lambda xs, out, gz: [None],
              lambda xs, out, ts: None))
_row(ScalarOp("isinf", 1, np.isinf, "bool", _pred_c("isinf"), lambda xs, out, gz: [None],
              lambda xs, out, ts: None))


def _switch_vjp(xs, out, gz):
    c, a, b = xs
    sw = _b("switch")
    zero = _b("zeros_like")(gz)
    return [None, _fgrad(a, sw(c, gz, zero)), _fgrad(b, sw(c, zero, gz))]


def _switch_jvp(xs, out, ts):
    c = xs[0]
    if ts[1] is None and ts[2] is None:
        return None
    sw = _b("switch")
    ta = ts[1] if ts[1] is not None else _b("zeros_like")(out)
    tb = ts[2] if ts[2] is not None else _b("zeros_like")(out)
    return sw(c, ta, tb)


def _switch_c(args, in_dtypes, out):
    a = _args_as(args[1:], in_dtypes[1:], out)
    return f"(({args[0]}) ? {a[0]} : {a[1]})"


_row(ScalarOp("switch", 3, lambda c, a, b: np.where(c, a, b), "switch", _switch_c, _switch_vjp,
              _switch_jvp, promote_from=1))


# fill(a, b): b broadcast to a's shape (Theano's `second`).  The gradient w.r.t. a is zero but
# connected: a's shape matters.
_row(ScalarOp("second", 2, lambda a, b: np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)),
              "last", lambda a, d, o: c_cast(a[1], d[1], o),
              lambda xs, out, gz: [None, _fgrad(xs[1], gz)], lambda xs, out, ts: ts[1]))

_row(ScalarOp("identity", 1, lambda x: x.copy(), "upcast", lambda a, d, o: c_cast(a[0], d[0], o),
              lambda xs, out, gz: [_fgrad(xs[0], gz)], lambda xs, out, ts: ts[0]))


def _sqr_c(args, in_dtypes, out):
    a = c_cast(args[0], in_dtypes[0], out)
    return _wrapping("*", [a, a], out)


_row(ScalarOp("sqr", 1, np.square, "upcast_int", _sqr_c,
              lambda xs, out, gz: [_fgrad(xs[0], gz * 2 * xs[0])],
              lambda xs, out, ts: _mul_t(ts[0], 2 * xs[0])))

_CASTS: dict[str, ScalarOp] = {}


def cast_op(dtype: str) -> ScalarOp:
    """The scalar op converting to `dtype` (one row per target dtype)."""
    dtype = dtypes.canonical(dtype)
    if dtype not in _CASTS:

        def vjp(xs, out, gz, _d=dtype):
            x = xs[0]
            if x.dtype in dtypes.FLOATS and _d in dtypes.FLOATS:
                return [builder("cast")(gz, x.dtype)]
            return [None]

        def jvp(xs, out, ts, _d=dtype):
            if ts[0] is None or _d not in dtypes.FLOATS or xs[0].dtype not in dtypes.FLOATS:
                return None
            return builder("cast")(ts[0], _d)

        def impl(x, _d=dtype):
            with np.errstate(all="ignore"):
                return np.asarray(x).astype(_d)

        _CASTS[dtype] = ScalarOp("cast", 1, impl, dtype, lambda a, d, o: c_cast(a[0], d[0], o),
                                 vjp, jvp, param=dtype)
    return _CASTS[dtype]
