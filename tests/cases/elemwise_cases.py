"""Op table cases for ccgrad/ops/elemwise.py: every scalar-op row (and cast to several dtypes).

Generated from small spec tables: each unary/binary row gets float64 cases with finite-difference
checks (inside a domain away from kinks and branch cuts), float32, 0-d, empty, static-shape and
memory-layout cases, integer and bool dtypes where the op allows them, broadcasting and weak
Python-scalar operands; hand-written value cases pin numpy's corner semantics (division by zero,
negatives, NaN, half-to-even rounding, bool arithmetic, wrap-around).  Every reference is an
independent numpy/Python expression, never the op's own implementation.
"""

import math

import numpy as np

import ccgrad.tensor as T
from tests.optable import Arg
from tests.optable import Case as _Case

INTS = ("int8", "int32", "int64", "uint8")


def Case(*args, grad=False, **kw):
    """A table row; finite-difference checks only where a case asks for them (grad=True)."""
    return _Case(*args, grad=grad, **kw)


def _r(f):
    """A reference that ignores floating-point warnings (inf/nan results are expected)."""

    def ref(*xs):
        with np.errstate(all="ignore"):
            return f(*xs)

    return ref


def _f64(f):
    """A reference evaluated on float64 copies of the inputs (ints to transcendental ops)."""
    return _r(lambda *xs: f(*[np.asarray(x, dtype="float64") for x in xs]))


def _dt(var, dtype):
    """Assert the type rule's dtype at build time (weak-scalar promotion cases)."""
    assert var.dtype == dtype, f"expected {dtype}, got {var.dtype}"
    return var


def _vec(fn):
    """Elementwise Python function as a float64 numpy reference (erf, erfc)."""
    return lambda a: np.array([fn(float(v)) for v in np.ravel(a)], dtype="float64").reshape(np.shape(a))


def _each(fn):
    """A Python scalar function applied element by element, keeping the input's dtype."""
    return lambda a: np.array([fn(v) for v in a.ravel().tolist()], a.dtype).reshape(a.shape)


def _int_range(dtype, lo, hi):
    return (max(lo, 0), max(hi, 0)) if dtype == "uint8" else (lo, hi)


# ---------------------------------------------------------------------------------------------
# unary rows: name, builder, reference, float domain, int domain (None: no int/bool cases),
# bool allowed, differentiable-check


UNARY = [
    ("neg", lambda a: -a, lambda a: 0 - a, (-2, 2), (-5, 5), False, True),
    ("abs", abs, lambda a: np.where(a < 0, -a, a), (-2, 2), (-5, 5), True, True),
    ("sign", T.sign, lambda a: (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype), (-2, 2), (-5, 5), False, True),
    ("exp", T.exp, np.exp, (-2, 2), (-3, 3), True, True),
    ("exp2", T.exp2, lambda a: 2.0**a, (-2, 2), (-3, 3), True, True),
    ("log", T.log, np.log, (0.5, 2), (1, 5), True, True),
    ("log2", T.log2, lambda a: np.log(a) / np.log(2.0), (0.5, 2), (1, 5), True, True),
    ("log10", T.log10, lambda a: np.log(a) / np.log(10.0), (0.5, 2), (1, 5), True, True),
    ("log1p", T.log1p, lambda a: np.log(1.0 + a), (-0.5, 2), (0, 5), True, True),
    ("expm1", T.expm1, lambda a: np.exp(a) - 1.0, (-2, 2), (-3, 3), True, True),
    ("sqrt", T.sqrt, lambda a: a**0.5, (0.5, 2), (0, 9), True, True),
    ("sqr", T.sqr, lambda a: a * a, (-2, 2), (-5, 5), True, True),
    ("sin", T.sin, np.sin, (-3, 3), (-3, 3), True, True),
    ("cos", T.cos, np.cos, (-3, 3), (-3, 3), True, True),
    ("tan", T.tan, lambda a: np.sin(a) / np.cos(a), (-1.2, 1.2), (-1, 1), True, True),
    ("arcsin", T.arcsin, lambda a: np.arctan2(a, np.sqrt(1 - a * a)), (-0.8, 0.8), (-1, 1), True, True),
    ("arccos", T.arccos, lambda a: np.arctan2(np.sqrt(1 - a * a), a), (-0.8, 0.8), (-1, 1), True, True),
    ("arctan", T.arctan, lambda a: np.arctan2(a, 1.0), (-2, 2), (-3, 3), True, True),
    ("sinh", T.sinh, lambda a: (np.exp(a) - np.exp(-a)) / 2, (-2, 2), (-3, 3), True, True),
    ("cosh", T.cosh, lambda a: (np.exp(a) + np.exp(-a)) / 2, (-2, 2), (-3, 3), True, True),
    ("tanh", T.tanh, lambda a: 1 - 2 / (np.exp(2 * a) + 1), (-2, 2), (-3, 3), True, True),
    ("arcsinh", T.arcsinh, lambda a: np.log(a + np.sqrt(a * a + 1)), (-2, 2), (-3, 3), True, True),
    ("arccosh", T.arccosh, lambda a: np.log(a + np.sqrt(a * a - 1)), (1.5, 3), (1, 4), True, True),
    ("arctanh", T.arctanh, lambda a: 0.5 * np.log((1 + a) / (1 - a)), (-0.8, 0.8), (0, 0), True, True),
    ("sigmoid", T.sigmoid, lambda a: 1 / (1 + np.exp(-a)), (-3, 3), (-4, 4), True, True),
    ("softplus", T.softplus, lambda a: np.log(1 + np.exp(a)), (-3, 3), (-4, 4), True, True),
    ("erf", T.erf, _vec(math.erf), (-2, 2), (-2, 2), True, True),
    ("erfc", T.erfc, _vec(math.erfc), (-2, 2), (-2, 2), True, True),
    # Piecewise constant: zero derivative, which finite differences confirm away from the jumps.
    ("floor", T.floor, _each(math.floor), (-2.9, 2.9), (-5, 5), True, True),
    ("ceil", T.ceil, _each(math.ceil), (-2.9, 2.9), (-5, 5), True, True),
    ("round", T.round, _each(round), (-2.9, 2.9), (-5, 5), True, True),
    ("trunc", T.trunc, _each(math.trunc), (-2.9, 2.9), (-5, 5), True, True),
    ("identity", T.identity, lambda a: a, (-2, 2), (-5, 5), True, True),
]

# Rows whose result keeps the input's integer dtype (the others give floats for int inputs).
_INT_PRESERVING = {"neg", "abs", "sign", "sqr", "floor", "ceil", "round", "trunc", "identity"}


def _unary_cases(name, fn, ref, dom, idom, allow_bool, grad):
    lo, hi = dom
    out = [
        Case(f"ew_{name}_f64", fn, [Arg(shape=(2, 3), low=lo, high=hi)], _r(ref), grad=grad),
        Case(f"ew_{name}_0d", fn, [Arg(shape=(), low=lo, high=hi)], _r(ref), grad=grad),
        Case(f"ew_{name}_f32", fn, [Arg("float32", shape=(5,), low=lo, high=hi)], _r(ref)),
        Case(f"ew_{name}_empty", fn, [Arg(shape=(0,), low=lo, high=hi)], _r(ref), grad=grad),
        Case(f"ew_{name}_empty2d", fn, [Arg("float32", shape=(2, 0), low=lo, high=hi)], _r(ref)),
        Case(f"ew_{name}_static_row", fn, [Arg(shape=(1, 4), static=(1, None), low=lo, high=hi)], _r(ref), grad=grad),
        Case(f"ew_{name}_static_full", fn, [Arg(shape=(2, 3), static=(2, 3), low=lo, high=hi)], _r(ref)),
    ]
    for layout, shape in (("f", (3, 4)), ("strided", (3, 4)), ("reversed", (2, 5))):
        out.append(
            Case(
                f"ew_{name}_{layout}",
                fn,
                [Arg(shape=shape, low=lo, high=hi, layout=layout)],
                _r(ref),
                grad=grad and layout == "f",
            )
        )
    if idom is not None:
        iref = _r(ref) if name in _INT_PRESERVING else _f64(ref)
        for dt in INTS:
            ilo, ihi = _int_range(dt, *idom)
            out.append(Case(f"ew_{name}_{dt}", fn, [Arg(dt, shape=(2, 4), low=ilo, high=ihi)], iref))
        out.append(
            Case(f"ew_{name}_int16_f", fn, [Arg("int16", shape=(3, 2), low=idom[0], high=idom[1], layout="f")], iref)
        )
    if allow_bool:
        # bools are their own abs / floor / round; the float-valued rows see 0.0 and 1.0
        bref = (lambda a: a.copy()) if name in _INT_PRESERVING else _f64(ref)
        out.append(Case(f"ew_{name}_bool", fn, [Arg("bool", shape=(2, 3))], bref))
    return out


CASES: list[Case] = [
    Case("add_vec", lambda a, b: a + b, [Arg(), Arg()], lambda a, b: a + b),
    Case(
        "add_row_col",
        lambda a, b: a + b,
        [Arg(shape=(1, 4), static=(1, None)), Arg(shape=(3, 1), static=(None, 1))],
        lambda a, b: a + b,
    ),
    Case("exp_mat", lambda a: T.exp(a), [Arg(shape=(2, 3))], lambda a: np.exp(a)),
    Case("pow_const", lambda a: a**2, [Arg()], lambda a: a * a),
]

for _spec in UNARY:
    CASES += _unary_cases(*_spec)


# ---------------------------------------------------------------------------------------------
# binary rows: name, builder, reference, float domains of a and b, int domains of a and b
# (None: no int cases), bool allowed, differentiable-check


def _py_floordiv(a, b):
    """numpy's integer floor division: Python's //, with x // 0 == 0."""
    return np.array(
        [x // y if y else 0 for x, y in zip(a.ravel().tolist(), b.ravel().tolist())], dtype="int64"
    ).reshape(a.shape)


def _py_mod(a, b):
    return np.array([x % y if y else 0 for x, y in zip(a.ravel().tolist(), b.ravel().tolist())], dtype="int64").reshape(
        a.shape
    )


def _bc(f):
    """Apply a flat Python reference to broadcast operands."""

    def ref(a, b):
        a, b = np.broadcast_arrays(a, b)
        return f(np.ascontiguousarray(a), np.ascontiguousarray(b))

    return ref


def _int_or_float(int_ref, float_ref):
    def ref(a, b):
        if np.result_type(a, b).kind in "biu":
            return _bc(int_ref)(a.astype("int64"), b.astype("int64"))
        return float_ref(a, b)

    return _r(ref)


BINARY = [
    ("add", lambda a, b: a + b, lambda a, b: a + b, (-2, 2), (-2, 2), (-9, 9), (-9, 9), True, True),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, (-2, 2), (-2, 2), (-9, 9), (-9, 9), False, True),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, (-2, 2), (-2, 2), (-9, 9), (-9, 9), True, True),
    (
        "true_div",
        lambda a, b: a / b,
        lambda a, b: a * (1.0 / np.asarray(b, "float64")),
        (-2, 2),
        (0.5, 2),
        (-9, 9),
        (1, 5),
        True,
        True,
    ),
    (
        "int_div",
        lambda a, b: a // b,
        _int_or_float(_py_floordiv, _f64(lambda a, b: np.floor(a / b))),
        (-3, 3),
        (0.3, 2),
        (-9, 9),
        (-3, 3),
        True,
        True,
    ),
    (
        "mod",
        lambda a, b: a % b,
        _int_or_float(_py_mod, _f64(lambda a, b: a - np.floor(a / b) * b)),
        (-3, 3),
        (0.3, 2),
        (-9, 9),
        (-3, 3),
        True,
        True,
    ),
    ("pow", lambda a, b: a**b, _f64(lambda a, b: np.exp(b * np.log(a))), (0.5, 2), (-2, 2), None, None, False, True),
    ("arctan2", T.arctan2, _f64(lambda a, b: np.arctan(a / b)), (-2, 2), (0.5, 2), (-3, 3), (1, 3), False, True),
    ("maximum", T.maximum, lambda a, b: np.where(a > b, a, b), (-2, 2), (-2, 2), (-9, 9), (-9, 9), True, True),
    ("minimum", T.minimum, lambda a, b: np.where(a < b, a, b), (-2, 2), (-2, 2), (-9, 9), (-9, 9), True, True),
    ("lt", lambda a, b: a < b, lambda a, b: np.less(a, b), (-2, 2), (-2, 2), (-3, 3), (-3, 3), True, False),
    ("le", lambda a, b: a <= b, lambda a, b: ~(a > b), (-2, 2), (-2, 2), (-3, 3), (-3, 3), True, False),
    ("gt", lambda a, b: a > b, lambda a, b: np.less(b, a), (-2, 2), (-2, 2), (-3, 3), (-3, 3), True, False),
    ("ge", lambda a, b: a >= b, lambda a, b: ~(a < b), (-2, 2), (-2, 2), (-3, 3), (-3, 3), True, False),
    ("eq", T.eq, lambda a, b: a == b, (-2, 2), (-2, 2), (-2, 2), (-2, 2), True, False),
    ("neq", T.neq, lambda a, b: a != b, (-2, 2), (-2, 2), (-2, 2), (-2, 2), True, False),
]


def _binary_cases(name, fn, ref, adom, bdom, aidom, bidom, allow_bool, grad):
    ref = _r(ref)
    (alo, ahi), (blo, bhi) = adom, bdom

    def A(dtype="float64", shape=(2, 3), **kw):
        return Arg(dtype, shape=shape, low=alo, high=ahi, **kw)

    def B(dtype="float64", shape=(2, 3), **kw):
        return Arg(dtype, shape=shape, low=blo, high=bhi, **kw)

    out = [
        Case(f"ew_{name}_f64", fn, [A(), B()], ref, grad=grad),
        Case(
            f"ew_{name}_row_col",
            fn,
            [A(shape=(1, 4), static=(1, None)), B(shape=(3, 1), static=(None, 1))],
            ref,
            grad=grad,
        ),
        Case(f"ew_{name}_col_mat", fn, [A(shape=(3, 1), static=(None, 1)), B(shape=(3, 4))], ref, grad=grad),
        Case(f"ew_{name}_vec_mat", fn, [A(shape=(4,)), B(shape=(3, 4))], ref, grad=grad),
        Case(f"ew_{name}_0d", fn, [A(shape=()), B(shape=())], ref, grad=grad),
        Case(f"ew_{name}_0d_mat", fn, [A(shape=(2, 3)), B(shape=())], ref, grad=grad),
        Case(f"ew_{name}_f32", fn, [A("float32", shape=(5,)), B("float32", shape=(5,))], ref),
        Case(f"ew_{name}_f32_f64", fn, [A("float32", shape=(5,)), B(shape=(5,))], ref),
        Case(f"ew_{name}_empty", fn, [A(shape=(0,)), B(shape=(0,))], ref, grad=grad),
        Case(f"ew_{name}_empty2d", fn, [A(shape=(2, 0)), B(shape=(1, 0), static=(1, None))], ref),
        Case(
            f"ew_{name}_layouts",
            fn,
            [A(shape=(3, 4), layout="f"), B(shape=(3, 4), layout="reversed")],
            ref,
            grad=grad,
        ),
        Case(
            f"ew_{name}_strided",
            fn,
            [A(shape=(3, 4), layout="strided"), B(shape=(1, 4), static=(1, None), layout="strided")],
            ref,
        ),
        Case(
            f"ew_{name}_static_err",
            fn,
            [A(shape=(3,), static=(3,)), B(shape=(4,), static=(4,))],
            ref,
            expect_error=ValueError,
        ),
        Case(f"ew_{name}_runtime_err", fn, [A(shape=(3,)), B(shape=(4,))], ref, expect_error=ValueError),
    ]
    if aidom is not None:
        for dt in INTS:
            a_lo, a_hi = _int_range(dt, *aidom)
            b_lo, b_hi = _int_range(dt, *bidom)
            out.append(
                Case(
                    f"ew_{name}_{dt}",
                    fn,
                    [Arg(dt, shape=(3, 4), low=a_lo, high=a_hi), Arg(dt, shape=(3, 4), low=b_lo, high=b_hi)],
                    ref,
                )
            )
        out.append(
            Case(
                f"ew_{name}_int8_uint8",
                fn,
                [
                    Arg("int8", shape=(6,), low=aidom[0], high=aidom[1]),
                    Arg("uint8", shape=(6,), low=max(bidom[0], 0), high=max(bidom[1], 0)),
                ],
                ref,
            )
        )
        out.append(
            Case(
                f"ew_{name}_int16_f32",
                fn,
                [Arg("int16", shape=(6,), low=aidom[0], high=aidom[1]), B("float32", shape=(6,))],
                ref,
            )
        )
        out.append(
            Case(
                f"ew_{name}_int32_bcast",
                fn,
                [
                    Arg("int32", shape=(1, 3), static=(1, None), low=aidom[0], high=aidom[1]),
                    Arg("int64", shape=(2, 3), low=bidom[0], high=bidom[1]),
                ],
                ref,
            )
        )
    if allow_bool:
        out.append(Case(f"ew_{name}_bool", fn, [Arg("bool", shape=(2, 3)), Arg("bool", shape=(2, 3))], ref))
        out.append(
            Case(
                f"ew_{name}_bool_int8",
                fn,
                [
                    Arg("bool", shape=(2, 3)),
                    Arg("int8", shape=(2, 3), low=max(bidom[0], 1) if bidom else 1, high=bidom[1] if bidom else 3),
                ],
                ref,
            )
        )
    return out


for _spec in BINARY:
    CASES += _binary_cases(*_spec)


# ---------------------------------------------------------------------------------------------
# n-ary add/mul, weak Python scalars, and corner values


def _vals(*xs, dtype="float64"):
    return Arg(dtype, shape=(len(xs),), value=list(xs))


NAN, INF = float("nan"), float("inf")

CASES += [
    Case(
        "ew_add_3ary",
        lambda a, b, c: T.add(a, b, c),
        [Arg(shape=(2, 3)), Arg(shape=(1, 3), static=(1, None)), Arg(shape=())],
        lambda a, b, c: a + b + c,
        grad=True,
    ),
    Case(
        "ew_mul_3ary",
        lambda a, b, c: T.mul(a, b, c),
        [Arg(shape=(2, 3)), Arg(shape=(2, 1), static=(None, 1)), Arg(shape=(3,))],
        lambda a, b, c: a * b * c,
        grad=True,
    ),
    Case(
        "ew_mul_3ary_int",
        lambda a, b, c: T.mul(a, b, c),
        [Arg("int8", shape=(4,), low=-100, high=100)] * 3,
        lambda a, b, c: a * b * c,
    ),
    # weak Python scalars: the tensor's dtype wins within a kind (NEP 50)
    Case("ew_weak_mul_f32", lambda a: _dt(a * 0.1, "float32"), [Arg("float32", shape=(4,))], lambda a: a * 0.1),
    Case("ew_weak_rmul_f32", lambda a: _dt(0.1 * a, "float32"), [Arg("float32", shape=(4,))], lambda a: 0.1 * a),
    Case(
        "ew_weak_bigint_f32", lambda a: _dt(a * 100000, "float32"), [Arg("float32", shape=(4,))], lambda a: a * 100000
    ),
    Case("ew_weak_pow2_f32", lambda a: _dt(a**2, "float32"), [Arg("float32", shape=(4,))], lambda a: a * a),
    Case("ew_weak_pow2", lambda a: a**2, [Arg(shape=(2, 3))], lambda a: a * a, grad=True),
    Case(
        "ew_weak_pow3_int",
        lambda a: _dt(a**3, "int32"),
        [Arg("int32", shape=(5,), low=-9, high=9)],
        lambda a: a * a * a,
    ),
    Case("ew_weak_pow_half", lambda a: a**0.5, [Arg(shape=(4,), low=0.5, high=2)], np.sqrt, grad=True),
    Case("ew_weak_rpow", lambda a: 2**a, [Arg(shape=(4,))], lambda a: np.exp(a * np.log(2.0)), grad=True),
    Case("ew_weak_rsub", lambda a: 2 - a, [Arg(shape=(4,))], lambda a: -a + 2, grad=True),
    Case(
        "ew_weak_rsub_int8",
        lambda a: _dt(2 - a, "int8"),
        [Arg("int8", shape=(4,), low=-9, high=9)],
        lambda a: (2 - a.astype("int64")).astype("int8"),
    ),
    Case("ew_weak_rdiv", lambda a: 1.0 / a, [Arg(shape=(4,), low=0.5, high=2)], lambda a: a**-1.0, grad=True),
    Case(
        "ew_weak_rdiv_f32",
        lambda a: _dt(1 / a, "float32"),
        [Arg("float32", shape=(4,), low=0.5, high=2)],
        lambda a: 1 / a,
    ),
    Case(
        "ew_weak_floordiv",
        lambda a: a // 2,
        [Arg("int64", shape=(6,), low=-9, high=9)],
        lambda a: np.array([v // 2 for v in a.tolist()]),
    ),
    Case(
        "ew_weak_rfloordiv", lambda a: 7 // a, [Arg(shape=(6,), low=0.5, high=3)], lambda a: np.floor(7 / a), grad=True
    ),
    Case(
        "ew_weak_mod",
        lambda a: a % 3,
        [Arg("int32", shape=(6,), low=-9, high=9)],
        lambda a: np.array([v % 3 for v in a.tolist()]),
    ),
    Case(
        "ew_weak_rmod",
        lambda a: 5.0 % a,
        [Arg(shape=(6,), low=0.7, high=3)],
        lambda a: 5.0 - np.floor(5.0 / a) * a,
        grad=True,
    ),
    Case(
        "ew_weak_add_int32", lambda a: _dt(a + 2, "int32"), [Arg("int32", shape=(4,), low=-9, high=9)], lambda a: a + 2
    ),
    Case(
        "ew_weak_add_int8_big",
        lambda a: _dt(a + 1000, "int16"),
        [Arg("int8", shape=(4,), low=-9, high=9)],
        lambda a: a.astype("int16") + 1000,
    ),
    Case(
        "ew_weak_add_uint8_neg",
        lambda a: _dt(a + -1, "int16"),
        [Arg("uint8", shape=(4,), low=0, high=9)],
        lambda a: a.astype("int16") - 1,
    ),
    Case(
        "ew_weak_mul_int8_float",
        lambda a: _dt(a * 2.5, "float64"),
        [Arg("int8", shape=(4,), low=-9, high=9)],
        lambda a: a.astype("float64") * 2.5,
    ),
    Case(
        "ew_weak_bool_add_int",
        lambda a: _dt(a + 1, "int64"),
        [Arg("bool", shape=(4,))],
        lambda a: a.astype("int64") + 1,
    ),
    Case(
        "ew_weak_cmp_f32",
        lambda a: a < 0.1,
        [Arg("float32", shape=(6,), value=[0.1, 0.0999, 0.2, -1, 1, 0.10001])],
        lambda a: a < np.float32(0.1),
    ),
    Case(
        "ew_weak_cmp_int8_big",
        lambda a: a < 1000,
        [Arg("int8", shape=(4,), low=-9, high=9)],
        lambda a: np.ones(4, bool),
    ),
    Case(
        "ew_weak_clip",
        lambda a: a.clip(-1.0, 1.0),
        [Arg(shape=(2, 3))],
        lambda a: np.minimum(np.maximum(a, -1), 1),
        grad=True,
    ),
    Case("ew_weak_max", lambda a: T.maximum(a, 0), [Arg(shape=(2, 3))], lambda a: np.where(a > 0, a, 0), grad=True),
    Case("ew_weak_both", lambda a: a * _dt(T.sub(2, 1), "int8"), [Arg(shape=(3,))], lambda a: a + 0, grad=True),
    Case(
        "ew_numpy_left",
        lambda a: np.array([1.0, 2.0, 3.0]) - a,
        [Arg(shape=(3,))],
        lambda a: np.array([1.0, 2.0, 3.0]) - a,
        grad=True,
    ),
    # tangents built from a broadcast input alone must still get the output's shape
    Case(
        "ew_add_row_const",
        lambda r: r + np.ones((3, 4)),
        [Arg(shape=(1, 4), static=(1, None))],
        lambda r: np.repeat(r, 3, axis=0) + 1,
        grad=True,
    ),
    Case(
        "ew_sub_const_row",
        lambda r: np.ones((3, 4)) - r,
        [Arg(shape=(1, 4), static=(1, None))],
        lambda r: 1 - np.repeat(r, 3, axis=0),
        grad=True,
    ),
    Case(
        "ew_mod_row_const",
        lambda r: r % np.full((3, 4), 1.7),
        [Arg(shape=(1, 4), static=(1, None), low=0.1, high=1.5)],
        lambda r: np.repeat(r, 3, axis=0),
        grad=True,
    ),
    Case(
        "ew_fill_0d_value",
        lambda b: T.fill(np.ones((2, 3)), b),
        [Arg(shape=())],
        lambda b: np.full((2, 3), b),
        grad=True,
    ),
    # bool arithmetic: + is logical or, * logical and; //, %, ** and square give int8 (numpy)
    Case(
        "ew_bool_add_values",
        lambda a, b: _dt(a + b, "bool"),
        [_vals(1, 1, 0, 0, dtype="bool"), _vals(1, 0, 1, 0, dtype="bool")],
        lambda a, b: a | b,
    ),
    Case(
        "ew_bool_mul_values",
        lambda a, b: _dt(a * b, "bool"),
        [_vals(1, 1, 0, 0, dtype="bool"), _vals(1, 0, 1, 0, dtype="bool")],
        lambda a, b: a & b,
    ),
    Case("ew_bool_add3", lambda a, b, c: T.add(a, b, c), [Arg("bool", shape=(5,))] * 3, lambda a, b, c: a | b | c),
    Case(
        "ew_bool_floordiv",
        lambda a, b: _dt(a // b, "int8"),
        [_vals(1, 1, 0, 0, dtype="bool"), _vals(1, 0, 1, 0, dtype="bool")],
        lambda a, b: np.array([1, 0, 0, 0]),
    ),
    Case(
        "ew_bool_mod",
        lambda a, b: _dt(a % b, "int8"),
        [_vals(1, 1, 0, 0, dtype="bool"), _vals(1, 0, 1, 0, dtype="bool")],
        lambda a, b: np.zeros(4),
    ),
    Case(
        "ew_bool_pow",
        lambda a, b: _dt(a**b, "int8"),
        [_vals(1, 1, 0, 0, dtype="bool"), _vals(1, 0, 1, 0, dtype="bool")],
        lambda a, b: np.array([1, 1, 0, 1]),
    ),
    Case("ew_bool_sqr", lambda a: _dt(T.sqr(a), "int8"), [_vals(1, 0, dtype="bool")], lambda a: np.array([1, 0])),
    Case(
        "ew_bool_sub_int8",
        lambda a, b: _dt(a - b, "int8"),
        [_vals(1, 0, 1, dtype="bool"), _vals(1, 1, -3, dtype="int8")],
        lambda a, b: np.array([0, -1, 4]),
    ),
    Case("ew_bool_sub_err", lambda a, b: a - b, [Arg("bool"), Arg("bool")], lambda a, b: a, expect_error=TypeError),
    Case("ew_bool_neg_err", lambda a: -a, [Arg("bool")], lambda a: a, expect_error=TypeError),
    Case("ew_bool_sign_err", lambda a: T.sign(a), [Arg("bool")], lambda a: a, expect_error=TypeError),
    # integer division and modulo: floor semantics, zero divisors give 0, INT_MIN // -1 wraps
    Case(
        "ew_int_div_values",
        lambda a, b: a // b,
        [_vals(7, -7, 7, -7, 5, 0, -128, -128, 127, dtype="int8"), _vals(2, 2, -2, -2, 0, 0, -1, 1, -1, dtype="int8")],
        lambda a, b: np.array([3, -4, -4, 3, 0, 0, -128, -128, -127]),
    ),
    Case(
        "ew_mod_values",
        lambda a, b: a % b,
        [_vals(7, -7, 7, -7, 5, 0, -128, -128, 127, dtype="int8"), _vals(2, 2, -2, -2, 0, 0, -1, 1, -1, dtype="int8")],
        lambda a, b: np.array([1, 1, -1, -1, 0, 0, 0, 0, 0]),
    ),
    Case(
        "ew_int_div_int64_min",
        lambda a, b: a // b,
        [_vals(-(2**63), 2**63 - 1, dtype="int64"), _vals(-1, -1, dtype="int64")],
        lambda a, b: np.array([-(2**63), -(2**63) + 1], dtype="int64"),
    ),
    Case(
        "ew_int_div_uint8_values",
        lambda a, b: a // b,
        [_vals(7, 255, 0, 9, dtype="uint8"), _vals(2, 0, 0, 10, dtype="uint8")],
        lambda a, b: np.array([3, 0, 0, 0]),
    ),
    Case(
        "ew_float_div_values",
        lambda a, b: a // b,
        [
            _vals(7.0, -7.0, 7.0, -7.0, 1.0, -1.0, 0.0, NAN, 5.0, -5.0),
            _vals(2.0, 2.0, -2.0, -2.0, 0.0, 0.0, 0.0, 1.0, INF, INF),
        ],
        lambda a, b: np.array([3.0, -4.0, -4.0, 3.0, INF, -INF, NAN, NAN, 0.0, -1.0]),
    ),
    Case(
        "ew_float_mod_values",
        lambda a, b: a % b,
        [_vals(7.0, -7.0, 7.0, -7.0, 1.0, 0.0, NAN, 5.0, -0.5), _vals(2.0, 2.0, -2.0, -2.0, 0.0, 0.0, 1.0, INF, 2.0)],
        lambda a, b: np.array([1.0, 1.0, -1.0, -1.0, NAN, NAN, NAN, 5.0, 1.5]),
    ),
    # the zero remainder takes the divisor's sign: 1 / (a % b) shows it as +-inf
    Case(
        "ew_float_mod_signed_zero",
        lambda a, b: 1.0 / (a % b),
        [_vals(-0.0, 0.0, 4.0, -4.0), _vals(2.0, -2.0, 2.0, -2.0)],
        lambda a, b: np.array([INF, -INF, INF, -INF]),
    ),
    Case(
        "ew_true_div_int_values",
        lambda a, b: _dt(a / b, "float64"),
        [_vals(1, -1, 0, 7, dtype="int8"), _vals(0, 0, 0, 2, dtype="int8")],
        lambda a, b: np.array([INF, -INF, NAN, 3.5]),
    ),
    Case(
        "ew_true_div_int16_f32_dtype",
        lambda a, b: _dt(a / b, "float32"),
        [Arg("int16", shape=(4,), low=-9, high=9), Arg("float32", shape=(4,), low=1, high=2)],
        lambda a, b: a.astype("float64") / b,
    ),
    # integer powers: wrap-around, negative exponents truncate 1/x**|e| toward zero (as Theano's C)
    Case(
        "ew_pow_int_values",
        lambda a, b: a**b,
        [_vals(2, 2, -2, 1, -1, -1, 0, 3, 2, dtype="int8"), _vals(3, 7, 3, -5, -3, -4, 0, -1, 8, dtype="int8")],
        lambda a, b: np.array([8, -128, -8, 1, -1, 1, 1, 0, 0]),
    ),
    Case(
        "ew_pow_int64_values",
        lambda a, b: a**b,
        [_vals(3, 2, 10, dtype="int64"), _vals(39, 63, 18, dtype="int64")],
        lambda a, b: np.array([3**39, -(2**63), 10**18], dtype="int64"),
    ),
    Case(
        "ew_pow_uint8_values",
        lambda a, b: a**b,
        [_vals(2, 3, 255, dtype="uint8"), _vals(8, 5, 2, dtype="uint8")],
        lambda a, b: np.array([0, 243, 1]),
    ),
    Case(
        "ew_pow_float_values",
        lambda a, b: a**b,
        [_vals(-8.0, -2.0, 0.0, 0.0, NAN, 1.0), _vals(1 / 3, 2.0, -1.0, 0.0, 0.0, NAN)],
        lambda a, b: np.array([NAN, 4.0, INF, 1.0, 1.0, 1.0]),
    ),
    Case(
        "ew_pow_f32_int",
        lambda a, b: _dt(a**b, "float32"),
        [Arg("float32", shape=(4,), low=0.5, high=2), Arg("int8", shape=(4,), low=-3, high=3)],
        lambda a, b: a.astype("float64") ** b.astype("float64"),
    ),
    Case(
        "ew_pow_int_f64",
        lambda a, b: a**b,
        [Arg("int32", shape=(4,), low=1, high=5), Arg(shape=(4,), low=-2, high=2)],
        lambda a, b: np.exp(b * np.log(a)),
        grad=True,
    ),
    Case(
        "ew_pow_x_int_grad",
        lambda a, b: a**b,
        [Arg(shape=(2, 3), low=-2, high=-0.5), Arg("int32", shape=(2, 3), low=-3, high=3)],
        lambda a, b: np.array([x**y for x, y in zip(a.ravel().tolist(), b.ravel().tolist())]).reshape(a.shape),
        grad=True,
    ),
    # wrap-around of + - * and neg in every integer width, abs(INT_MIN) == INT_MIN
    Case(
        "ew_add_wrap",
        lambda a, b: a + b,
        [_vals(127, -128, 100, dtype="int8"), _vals(1, -1, 100, dtype="int8")],
        lambda a, b: np.array([-128, 127, -56]),
    ),
    Case(
        "ew_add_wrap_int32",
        lambda a, b: a + b,
        [_vals(2**31 - 1, -(2**31), dtype="int32"), _vals(1, -1, dtype="int32")],
        lambda a, b: np.array([-(2**31), 2**31 - 1]),
    ),
    Case(
        "ew_sub_wrap_int64",
        lambda a, b: a - b,
        [_vals(-(2**63), 2**63 - 1, dtype="int64"), _vals(1, -1, dtype="int64")],
        lambda a, b: np.array([2**63 - 1, -(2**63)], dtype="int64"),
    ),
    Case(
        "ew_mul_wrap_int16",
        lambda a, b: a * b,
        [_vals(300, -300, 181, dtype="int16"), _vals(300, 300, 181, dtype="int16")],
        lambda a, b: (a.astype("int64") * b + 2**15) % 2**16 - 2**15,
    ),
    Case(
        "ew_mul_wrap_uint8",
        lambda a, b: a * b,
        [_vals(16, 255, 3, dtype="uint8"), _vals(16, 255, 5, dtype="uint8")],
        lambda a, b: np.array([0, 1, 15]),
    ),
    Case("ew_neg_wrap", lambda a: -a, [_vals(-128, 127, 0, dtype="int8")], lambda a: np.array([-128, -127, 0])),
    Case("ew_neg_uint8_values", lambda a: -a, [_vals(0, 1, 255, dtype="uint8")], lambda a: np.array([0, 255, 1])),
    Case(
        "ew_neg_int64_min",
        lambda a: -a,
        [_vals(-(2**63), 5, dtype="int64")],
        lambda a: np.array([-(2**63), -5], dtype="int64"),
    ),
    Case(
        "ew_abs_int_min",
        lambda a: abs(a),
        [_vals(-(2**31), -5, 7, dtype="int32")],
        lambda a: np.array([-(2**31), 5, 7]),
    ),
    Case("ew_sqr_wrap", lambda a: T.sqr(a), [_vals(16, -12, 11, dtype="int8")], lambda a: np.array([0, -112, 121])),
    # NaN and signed zero semantics
    Case(
        "ew_sign_values",
        lambda a: T.sign(a),
        [_vals(-3.0, -0.0, 0.0, 2.0, NAN, -INF, INF)],
        lambda a: np.array([-1.0, 0.0, 0.0, 1.0, NAN, -1.0, 1.0]),
    ),
    Case("ew_sign_uint8_values", lambda a: T.sign(a), [_vals(0, 1, 200, dtype="uint8")], lambda a: np.array([0, 1, 1])),
    Case(
        "ew_maximum_nan",
        lambda a, b: T.maximum(a, b),
        [_vals(NAN, 1.0, NAN, 2.0, -INF), _vals(1.0, NAN, NAN, 3.0, 0.0)],
        lambda a, b: np.array([NAN, NAN, NAN, 3.0, 0.0]),
    ),
    Case(
        "ew_minimum_nan",
        lambda a, b: T.minimum(a, b),
        [_vals(NAN, 1.0, NAN, 2.0, INF), _vals(1.0, NAN, NAN, 3.0, 0.0)],
        lambda a, b: np.array([NAN, NAN, NAN, 2.0, 0.0]),
    ),
    Case(
        "ew_maximum_f32_nan",
        lambda a, b: T.maximum(a, b),
        [_vals(NAN, 1.0, 2.0, dtype="float32"), _vals(1.0, NAN, 3.0, dtype="float32")],
        lambda a, b: np.array([NAN, NAN, 3.0]),
    ),
    Case(
        "ew_round_half_even",
        lambda a: T.round(a),
        [_vals(0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999, 3.5000001, NAN, INF)],
        lambda a: np.array([0.0, 2.0, 2.0, -0.0, -2.0, -2.0, 0.0, 4.0, NAN, INF]),
    ),
    Case(
        "ew_round_half_even_f32",
        lambda a: T.round(a),
        [_vals(0.5, 1.5, 2.5, -2.5, dtype="float32")],
        lambda a: np.array([0.0, 2.0, 2.0, -2.0]),
    ),
    Case(
        "ew_rounding_values",
        lambda a: [T.floor(a), T.ceil(a), T.trunc(a)],
        [_vals(-1.5, -0.5, 0.5, 1.5, NAN, -INF)],
        lambda a: [
            np.array([-2.0, -1.0, 0.0, 1.0, NAN, -INF]),
            np.array([-1.0, -0.0, 1.0, 2.0, NAN, -INF]),
            np.array([-1.0, -0.0, 0.0, 1.0, NAN, -INF]),
        ],
    ),
    Case(
        "ew_cmp_nan",
        lambda a, b: [a < b, a <= b, a > b, a >= b, T.eq(a, b), T.neq(a, b)],
        [_vals(NAN, 1.0, NAN, 1.0), _vals(1.0, NAN, NAN, 1.0)],
        lambda a, b: [
            np.array([0, 0, 0, 0], bool),
            np.array([0, 0, 0, 1], bool),
            np.array([0, 0, 0, 0], bool),
            np.array([0, 0, 0, 1], bool),
            np.array([0, 0, 0, 1], bool),
            np.array([1, 1, 1, 0], bool),
        ],
    ),
    Case(
        "ew_cmp_int_uint",
        lambda a, b: [a < b, T.eq(a, b)],
        [_vals(-1, 5, 100, dtype="int8"), _vals(255, 5, 100, dtype="uint8")],
        lambda a, b: [np.array([1, 0, 0], bool), np.array([0, 1, 1], bool)],
    ),
    Case(
        "ew_sigmoid_extremes",
        lambda a: T.sigmoid(a),
        [_vals(-800.0, -40.0, 0.0, 40.0, 800.0, NAN)],
        lambda a: np.array(
            [math.exp(-800.0), math.exp(-40.0) / (1 + math.exp(-40.0)), 0.5, 1 / (1 + math.exp(-40.0)), 1.0, NAN]
        ),
    ),
    Case(
        "ew_softplus_extremes",
        lambda a: T.softplus(a),
        [_vals(-800.0, -40.0, 0.0, 40.0, 800.0, INF, -INF)],
        lambda a: np.array(
            [0.0, math.log1p(math.exp(-40.0)), math.log(2.0), 40.0 + math.log1p(math.exp(-40.0)), 800.0, INF, 0.0]
        ),
    ),
    Case(
        "ew_log_domain",
        lambda a: [T.log(a), T.sqrt(a), T.arcsin(a), T.arccosh(a)],
        [_vals(0.0, -1.0, 2.0)],
        _r(
            lambda a: [
                np.array([-INF, NAN, math.log(2.0)]),
                np.array([0.0, NAN, math.sqrt(2.0)]),
                np.array([0.0, -math.pi / 2, NAN]),
                np.array([NAN, NAN, math.acosh(2.0)]),
            ]
        ),
    ),
    Case(
        "ew_erf_values",
        lambda a: [T.erf(a), T.erfc(a)],
        [_vals(0.0, 1.0, -3.0, 10.0, NAN)],
        lambda a: [
            np.array([0.0, math.erf(1.0), math.erf(-3.0), 1.0, NAN]),
            np.array([1.0, math.erfc(1.0), math.erfc(-3.0), math.erfc(10.0), NAN]),
        ],
    ),
]


# ---------------------------------------------------------------------------------------------
# three-input rows, fill, bitwise/logical rows, predicates, casts

CASES += [
    # clip: numpy.clip == minimum(maximum(x, lo), hi)
    Case(
        "ew_clip_f64",
        lambda x, lo, hi: T.clip(x, lo, hi),
        [Arg(shape=(2, 3)), Arg(shape=(2, 3), low=-1, high=-0.3), Arg(shape=(2, 3), low=0.3, high=1)],
        lambda x, lo, hi: np.where(x < lo, lo, np.where(x > hi, hi, x)),
        grad=True,
    ),
    Case(
        "ew_clip_bcast",
        lambda x, lo, hi: T.clip(x, lo, hi),
        [Arg(shape=(3, 4)), Arg(shape=(1, 4), static=(1, None), low=-1, high=-0.3), Arg(shape=(), low=0.3, high=1)],
        lambda x, lo, hi: np.where(x < lo, lo, np.where(x > hi, hi, x)),
        grad=True,
    ),
    Case(
        "ew_clip_0d",
        lambda x, lo, hi: T.clip(x, lo, hi),
        [Arg(shape=()), Arg(shape=(), high=-0.5), Arg(shape=(), low=0.5)],
        lambda x, lo, hi: np.where(x < lo, lo, np.where(x > hi, hi, x)),
        grad=True,
    ),
    Case(
        "ew_clip_f32_weak",
        lambda x: _dt(T.clip(x, 0.0, 1.0), "float32"),
        [Arg("float32", shape=(5,), layout="reversed")],
        lambda x: np.where(x < 0, 0, np.where(x > 1, 1, x)),
    ),
    Case(
        "ew_clip_int8",
        lambda x: _dt(T.clip(x, -3, 3), "int8"),
        [Arg("int8", shape=(2, 4), low=-9, high=9, layout="f")],
        lambda x: np.where(x < -3, -3, np.where(x > 3, 3, x)),
    ),
    Case(
        "ew_clip_ints",
        lambda x, lo, hi: T.clip(x, lo, hi),
        [
            Arg("int32", shape=(6,), low=-9, high=9),
            Arg("int64", shape=(6,), low=-5, high=-1),
            Arg("uint8", shape=(6,), low=0, high=5),
        ],
        lambda x, lo, hi: np.where(x < lo, lo, np.where(x > hi, hi, x)),
    ),
    Case(
        "ew_clip_bool",
        lambda x, lo, hi: T.clip(x, lo, hi),
        [Arg("bool", shape=(6,))] * 3,
        lambda x, lo, hi: (x | lo) & hi,
    ),
    Case(
        "ew_clip_uint8",
        lambda x: T.clip(x, 10, 200),
        [Arg("uint8", shape=(6,), low=0, high=255, layout="strided")],
        lambda x: np.where(x < 10, 10, np.where(x > 200, 200, x)),
    ),
    Case(
        "ew_clip_nan",
        lambda x, lo, hi: T.clip(x, lo, hi),
        [_vals(NAN, 1.0, 5.0), _vals(0.0, NAN, 0.0), _vals(2.0, 2.0, NAN)],
        lambda x, lo, hi: np.array([NAN, NAN, NAN]),
    ),
    Case(
        "ew_clip_empty",
        lambda x, lo, hi: T.clip(x, lo, hi),
        [Arg(shape=(2, 0)), Arg(shape=()), Arg(shape=())],
        lambda x, lo, hi: x,
    ),
    Case(
        "ew_clip_static_err",
        lambda x, lo, hi: T.clip(x, lo, hi),
        [Arg(shape=(2,), static=(2,)), Arg(shape=(3,), static=(3,)), Arg(shape=())],
        lambda *a: a[0],
        expect_error=ValueError,
    ),
    # switch: any dtype as the condition (non-zero is true, NaN too)
    Case(
        "ew_switch_f64",
        lambda c, a, b: T.switch(c, a, b),
        [Arg("bool", shape=(2, 3)), Arg(shape=(2, 3)), Arg(shape=(2, 3))],
        lambda c, a, b: np.choose(c.astype(int), [b, a]),
        grad=True,
    ),
    Case(
        "ew_switch_bcast",
        lambda c, a, b: T.switch(c, a, b),
        [Arg("bool", shape=(3, 1), static=(None, 1)), Arg(shape=(1, 4), static=(1, None)), Arg(shape=())],
        lambda c, a, b: np.choose(
            np.broadcast_to(c, (3, 4)).astype(int), [np.broadcast_to(b, (3, 4)), np.broadcast_to(a, (3, 4))]
        ),
        grad=True,
    ),
    Case(
        "ew_switch_cond_float",
        lambda c, a, b: T.switch(c, a, b),
        [_vals(0.0, -0.0, 2.0, NAN), Arg(shape=(4,)), Arg(shape=(4,))],
        lambda c, a, b: np.array([b[0], b[1], a[2], a[3]]),
    ),
    Case(
        "ew_switch_cond_int",
        lambda c, a, b: T.switch(c, a, b),
        [_vals(0, -1, 3, dtype="int8"), Arg("int32", shape=(3,), low=-9, high=9), Arg("float32", shape=(3,))],
        lambda c, a, b: np.array([b[0], a[1], a[2]], dtype="float64"),
    ),
    Case(
        "ew_switch_weak",
        lambda c, a: _dt(T.switch(c, a, 0), "float32"),
        [Arg("bool", shape=(5,)), Arg("float32", shape=(5,))],
        lambda c, a: a * c,
    ),
    # the condition's dtype never promotes the result (numpy.where)
    Case(
        "ew_switch_cond_f64_weak",
        lambda c, a: _dt(T.switch(c, a, 0.5), "float32"),
        [Arg(shape=(5,)), Arg("float32", shape=(5,))],
        lambda c, a: np.where(c != 0, a, np.float32(0.5)),
    ),
    Case(
        "ew_switch_bool_out",
        lambda c, a, b: T.switch(c, a, b),
        [Arg("bool", shape=(5,))] * 3,
        lambda c, a, b: (c & a) | (~c & b),
    ),
    Case(
        "ew_switch_0d",
        lambda c, a, b: T.switch(c, a, b),
        [Arg("bool", shape=()), Arg(shape=()), Arg(shape=(2, 2))],
        lambda c, a, b: np.full((2, 2), a) if c else b,
        grad=True,
    ),
    Case(
        "ew_switch_empty",
        lambda c, a, b: T.switch(c, a, b),
        [Arg("bool", shape=(0, 3)), Arg(shape=(0, 3)), Arg(shape=(0, 3))],
        lambda c, a, b: a,
    ),
    Case(
        "ew_switch_layouts",
        lambda c, a, b: T.switch(c, a, b),
        [
            Arg("bool", shape=(3, 4), layout="f"),
            Arg(shape=(3, 4), layout="strided"),
            Arg(shape=(3, 4), layout="reversed"),
        ],
        lambda c, a, b: np.choose(c.astype(int), [b, a]),
    ),
    Case(
        "ew_switch_arity_err", lambda c, a: T.switch(c, a), [Arg("bool"), Arg()], lambda c, a: a, expect_error=TypeError
    ),
    # fill / second: value broadcast to the model's shape; dtype of the value
    Case(
        "ew_fill_scalar",
        lambda a, b: T.fill(a, b),
        [Arg(shape=(2, 3)), Arg(shape=())],
        lambda a, b: np.zeros((2, 3)) + b,
        grad=True,
    ),
    Case(
        "ew_fill_row",
        lambda a, b: T.second(a, b),
        [Arg(shape=(3, 4)), Arg(shape=(1, 4), static=(1, None))],
        lambda a, b: np.repeat(b, 3, axis=0),
        grad=True,
    ),
    Case(
        "ew_fill_col_row",
        lambda a, b: T.fill(a, b),
        [Arg(shape=(3, 1), static=(None, 1)), Arg(shape=(1, 4), static=(1, None))],
        lambda a, b: np.repeat(b, 3, axis=0),
        grad=True,
    ),
    Case(
        "ew_fill_same",
        lambda a, b: T.fill(a, b),
        [Arg(shape=(2, 3), layout="f"), Arg(shape=(2, 3), layout="reversed")],
        lambda a, b: b,
    ),
    Case(
        "ew_fill_dtype",
        lambda a, b: _dt(T.fill(a, b), "int8"),
        [Arg("float32", shape=(2, 2)), Arg("int8", shape=(), low=-5, high=5)],
        lambda a, b: np.full((2, 2), b),
    ),
    Case("ew_fill_weak", lambda a: T.fill(a, 1.0), [Arg("float32", shape=(3,))], lambda a: np.ones(3)),
    Case("ew_fill_empty", lambda a, b: T.fill(a, b), [Arg(shape=(0, 2)), Arg(shape=())], lambda a, b: np.zeros((0, 2))),
    Case(
        "ew_fill_bool", lambda a, b: T.fill(a, b), [Arg(shape=(2,)), Arg("bool", shape=())], lambda a, b: np.full(2, b)
    ),
    Case(
        "ew_zeros_ones_like",
        lambda a: [T.zeros_like(a), T.ones_like(a, dtype="int32")],
        [Arg(shape=(2, 3))],
        lambda a: [np.zeros((2, 3)), np.ones((2, 3), "int32")],
    ),
    # identity via Variable.copy
    Case("ew_identity_copy", lambda a: a.copy(), [Arg("int16", shape=(2, 2), low=-9, high=9)], lambda a: a + 0),
    # predicates
    Case(
        "ew_isnan_values",
        lambda a: T.isnan(a),
        [_vals(NAN, 1.0, INF, -INF, 0.0)],
        lambda a: np.array([1, 0, 0, 0, 0], bool),
    ),
    Case(
        "ew_isinf_values",
        lambda a: T.isinf(a),
        [_vals(NAN, 1.0, INF, -INF, 0.0)],
        lambda a: np.array([0, 0, 1, 1, 0], bool),
    ),
    Case(
        "ew_isnan_f32",
        lambda a: [T.isnan(a), T.isinf(a)],
        [_vals(NAN, 1.0, INF, dtype="float32")],
        lambda a: [np.array([1, 0, 0], bool), np.array([0, 0, 1], bool)],
    ),
    Case(
        "ew_isnan_ints",
        lambda a, b: [T.isnan(a), T.isinf(a), T.isnan(b), T.isinf(b)],
        [Arg("int32", shape=(2, 3), low=-9, high=9), Arg("bool", shape=(4,))],
        lambda a, b: [np.zeros((2, 3), bool), np.zeros((2, 3), bool), np.zeros(4, bool), np.zeros(4, bool)],
    ),
    Case("ew_isnan_empty", lambda a: T.isnan(a), [Arg(shape=(2, 0))], lambda a: np.zeros((2, 0), bool)),
    Case(
        "ew_isinf_layout", lambda a: T.isinf(a), [Arg(shape=(3, 4), layout="strided")], lambda a: np.zeros((3, 4), bool)
    ),
    Case("ew_isnan_0d", lambda a: T.isnan(a), [Arg(shape=(), value=NAN)], lambda a: np.array(True)),
    # invert: logical not on bools, bitwise not on integers
    Case("ew_invert_bool", lambda a: ~a, [_vals(1, 0, dtype="bool")], lambda a: np.array([False, True])),
    Case("ew_invert_int8", lambda a: ~a, [_vals(0, -1, 127, -128, dtype="int8")], lambda a: -a.astype("int64") - 1),
    Case("ew_invert_uint8", lambda a: ~a, [_vals(0, 255, 15, dtype="uint8")], lambda a: 255 - a),
    Case(
        "ew_invert_int64",
        lambda a: T.invert(a),
        [Arg("int64", shape=(2, 3), low=-99, high=99, layout="f")],
        lambda a: -a - 1,
    ),
    Case(
        "ew_invert_int32",
        lambda a: ~a,
        [Arg("int32", shape=(4,), low=-99, high=99, layout="reversed")],
        lambda a: -a - 1,
    ),
    Case("ew_invert_0d", lambda a: ~a, [Arg("bool", shape=())], lambda a: np.logical_not(a)),
    Case("ew_invert_empty", lambda a: ~a, [Arg("int16", shape=(0,))], lambda a: a),
    Case("ew_invert_float_err", lambda a: ~a, [Arg()], lambda a: a, expect_error=TypeError),
]


def _bits(op, a, b):
    return np.array([op(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist())]).reshape(a.shape)


for _name, _sym, _pyop in (
    ("and", "&", lambda x, y: x & y),
    ("or", "|", lambda x, y: x | y),
    ("xor", "^", lambda x, y: x ^ y),
):
    _fn = {"and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b}[_name]
    _ref = _bc(lambda a, b, _op=_pyop: _bits(_op, a, b))
    CASES += [
        Case(f"ew_{_name}_bool", _fn, [Arg("bool", shape=(2, 3)), Arg("bool", shape=(2, 3))], _ref),
        Case(
            f"ew_{_name}_int8",
            _fn,
            [Arg("int8", shape=(2, 3), low=-128, high=127), Arg("int8", shape=(2, 3), low=-128, high=127)],
            _ref,
        ),
        Case(
            f"ew_{_name}_uint8_int32",
            _fn,
            [Arg("uint8", shape=(6,), low=0, high=255), Arg("int32", shape=(6,), low=-999, high=999)],
            _ref,
        ),
        Case(
            f"ew_{_name}_int64",
            _fn,
            [
                Arg("int64", shape=(6,), low=-(2**40), high=2**40, layout="reversed"),
                Arg("int64", shape=(6,), low=-(2**40), high=2**40),
            ],
            _ref,
        ),
        Case(
            f"ew_{_name}_bool_int16", _fn, [Arg("bool", shape=(6,)), Arg("int16", shape=(6,), low=-99, high=99)], _ref
        ),
        Case(
            f"ew_{_name}_bcast",
            _fn,
            [
                Arg("int32", shape=(3, 1), static=(None, 1), low=0, high=99),
                Arg("int32", shape=(1, 4), static=(1, None), low=0, high=99, layout="f"),
            ],
            _ref,
        ),
        Case(f"ew_{_name}_0d", _fn, [Arg("bool", shape=()), Arg("bool", shape=(3,))], _ref),
        Case(f"ew_{_name}_empty", _fn, [Arg("int8", shape=(2, 0)), Arg("int8", shape=(2, 0))], _ref),
        Case(
            f"ew_{_name}_weak",
            lambda a, _f=_fn: _dt(_f(a, 6), "int16"),
            [Arg("int16", shape=(5,), low=-99, high=99)],
            lambda a, _op=_pyop: np.array([_op(x, 6) for x in a.tolist()]),
        ),
        Case(f"ew_{_name}_float_err", _fn, [Arg(), Arg("int32")], lambda a, b: a, expect_error=TypeError),
        Case(f"ew_{_name}_float32_err", _fn, [Arg("bool"), Arg("float32")], lambda a, b: a, expect_error=TypeError),
    ]
CASES.append(
    Case(
        "ew_and_static_err",
        lambda a, b: a & b,
        [Arg("bool", shape=(2,), static=(2,)), Arg("bool", shape=(3,), static=(3,))],
        lambda a, b: a,
        expect_error=ValueError,
    )
)


# casts: numpy's astype (truncation toward zero, wrap-around, non-zero is True)
def _cast_case(cid, src, dst, ref=None, **kw):
    arg = kw.pop("arg", None) or Arg(
        src, shape=(2, 3), low=kw.pop("low", -9), high=kw.pop("high", 9), layout=kw.pop("layout", "c")
    )
    return Case(cid, lambda a: _dt(T.cast(a, dst), dst), [arg], ref or (lambda a: a.astype(dst)), grad=False, **kw)


CASES += [
    _cast_case("ew_cast_f64_f32", "float64", "float32", lambda a: np.float32(1) * a),
    _cast_case("ew_cast_f32_f64", "float32", "float64", lambda a: np.float64(1) * a, layout="f"),
    _cast_case(
        "ew_cast_f64_int32",
        "float64",
        "int32",
        arg=_vals(1.7, -1.7, 0.2, -0.9, 1e9, -1e9),
        ref=lambda a: np.array([1, -1, 0, 0, 10**9, -(10**9)]),
    ),
    _cast_case(
        "ew_cast_f64_int8",
        "float64",
        "int8",
        arg=_vals(1.7, -1.7, 127.9, -128.9),
        ref=lambda a: np.array([1, -1, 127, -128]),
    ),
    _cast_case(
        "ew_cast_f32_uint8",
        "float32",
        "uint8",
        arg=_vals(0.5, 254.9, 3.0, dtype="float32"),
        ref=lambda a: np.array([0, 254, 3]),
    ),
    _cast_case("ew_cast_f64_int64", "float64", "int64", layout="strided", ref=lambda a: np.trunc(a)),
    _cast_case(
        "ew_cast_f64_bool",
        "float64",
        "bool",
        arg=_vals(0.0, -0.0, 0.5, NAN, INF),
        ref=lambda a: np.array([False, False, True, True, True]),
    ),
    _cast_case(
        "ew_cast_int64_int8",
        "int64",
        "int8",
        arg=_vals(300, -200, 127, -129, dtype="int64"),
        ref=lambda a: np.array([44, 56, 127, 127]),
    ),
    _cast_case(
        "ew_cast_int8_uint8",
        "int8",
        "uint8",
        arg=_vals(-1, -128, 5, dtype="int8"),
        ref=lambda a: np.array([255, 128, 5]),
    ),
    _cast_case(
        "ew_cast_uint8_int8",
        "uint8",
        "int8",
        arg=_vals(255, 128, 5, dtype="uint8"),
        ref=lambda a: np.array([-1, -128, 5]),
    ),
    _cast_case("ew_cast_int32_f64", "int32", "float64", layout="reversed", ref=lambda a: a * 1.0),
    _cast_case("ew_cast_int16_f32", "int16", "float32", ref=lambda a: a * np.float32(1)),
    _cast_case("ew_cast_int32_bool", "int32", "bool", ref=lambda a: a != 0),
    _cast_case(
        "ew_cast_bool_f32", "bool", "float32", arg=_vals(1, 0, dtype="bool"), ref=lambda a: np.array([1.0, 0.0])
    ),
    _cast_case("ew_cast_bool_int64", "bool", "int64", arg=Arg("bool", shape=(2, 3), layout="f"), ref=lambda a: a * 1),
    _cast_case("ew_cast_0d", "float64", "int16", arg=Arg(shape=(), value=-2.5), ref=lambda a: np.array(-2)),
    _cast_case("ew_cast_empty", "float64", "float32", arg=Arg(shape=(2, 0)), ref=lambda a: a),
    _cast_case(
        "ew_cast_row",
        "int8",
        "float64",
        arg=Arg("int8", shape=(1, 3), static=(1, None), low=-9, high=9),
        ref=lambda a: a * 1.0,
    ),
    Case("ew_cast_astype", lambda a: a.astype("float32") * 2, [Arg(shape=(3,))], lambda a: (a * 2).astype("float32")),
    # a cast in a differentiable graph: gradient flows back through the cast (as float64)
    Case(
        "ew_cast_grad",
        lambda a: T.cast(T.cast(a, "int64"), "float64") + T.cast(a * 4.0, "float64") * a,
        [Arg(shape=(2, 3), low=0.1, high=0.9)],
        lambda a: np.trunc(a) + 4 * a * a,
        grad=True,
    ),
]
