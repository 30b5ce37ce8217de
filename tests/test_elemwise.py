"""Elementwise ops beyond the op table: the dtype rule of every row against numpy, weak Python
scalars, broadcasting errors, printing, Variable operators, and every row's C expression
compiled and compared with its numpy reference."""

from __future__ import annotations

import ctypes
import itertools
import shutil
import subprocess

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad import dtypes, pp
from ccgrad._paths import csrc_dir
from ccgrad.graph import Constant, TensorType, Variable
from ccgrad.ops.elemwise import Elemwise
from ccgrad.ops.scalar import SCALAR_OPS, cast_op
from ccgrad.options import config
from tests.tolerance import assert_close

ALL_DTYPES = ("bool", "int8", "uint8", "int16", "int32", "int64", "float32", "float64")


def vec(dtype: str, name: str | None = None) -> Variable:
    return TensorType(dtype, shape=(None,))(name)


def fn(inputs, outputs):
    return ccgrad.function(inputs, outputs, mode="py", on_unused_input="ignore")


def scalar_op_of(v: Variable) -> str:
    assert isinstance(v.owner.op, Elemwise), v.owner
    return v.owner.op.scalar_op.name


# ---------------------------------------------------------------------------------------------
# dtype rule of every row against numpy itself

_TRANSCENDENTAL = {
    "exp",
    "exp2",
    "log",
    "log2",
    "log10",
    "log1p",
    "expm1",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "arctan2",
    "sinh",
    "cosh",
    "tanh",
    "arcsinh",
    "arccosh",
    "arctanh",
    "sigmoid",
    "softplus",
    "erf",
    "erfc",
}

_NUMPY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "true_div": np.true_divide,
    "int_div": np.floor_divide,
    "mod": np.remainder,
    "pow": np.power,
    "neg": np.negative,
    "abs": np.absolute,
    "sign": np.sign,
    "sqr": np.square,
    "floor": np.floor,
    "ceil": np.ceil,
    "trunc": np.trunc,
    "round": np.round,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "clip": np.clip,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "eq": np.equal,
    "neq": np.not_equal,
    "and_": np.bitwise_and,
    "or_": np.bitwise_or,
    "xor": np.bitwise_xor,
    "invert": np.invert,
    "isnan": np.isnan,
    "isinf": np.isinf,
    "switch": np.where,
    "identity": np.copy,
    "second": lambda a, b: np.broadcast_arrays(a, b)[1],
}


def _theano_float(in_dtypes) -> str:
    """Transcendental functions: numpy's float for float inputs, else float32 for small ints."""
    up = np.result_type(*in_dtypes)
    if up.kind == "f":
        return up.name
    return "float32" if up.name in ("bool", "int8", "uint8", "int16") else "float64"


def _expected_dtype(name: str, in_dtypes) -> str:
    """What numpy does (or Theano, for transcendental functions); raises TypeError like numpy."""
    if name in _TRANSCENDENTAL:
        return _theano_float(in_dtypes)
    arrays = [np.ones(2, dtype=d) for d in in_dtypes]
    if name == "round" and in_dtypes[0] == "bool":
        return "bool"  # numpy gives float16 here; rounding a bool is the identity for us
    try:
        with np.errstate(all="ignore"):
            return np.asarray(_NUMPY[name](*arrays)).dtype.name
    except TypeError as exc:  # numpy's UFuncTypeError is a TypeError
        raise TypeError(str(exc)) from exc


def _dtype_combos(nin: int):
    if nin == 1:
        return [(d,) for d in ALL_DTYPES]
    if nin == 2:
        return list(itertools.product(ALL_DTYPES, repeat=2))
    return [(d, d, d) for d in ALL_DTYPES] + [("bool", "int8", "float32"), ("float64", "int8", "uint8")]


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
def test_dtype_rule_matches_numpy(name):
    sop = SCALAR_OPS[name]
    nin = 2 if sop.nin < 0 else sop.nin
    for combo in _dtype_combos(nin):
        inputs = [vec(d) for d in combo]
        try:
            want = _expected_dtype(name, combo)
        except TypeError:
            with pytest.raises(TypeError):
                Elemwise(sop).make_node(*inputs)
            continue
        got = Elemwise(sop).make_node(*inputs).outputs[0].dtype
        assert got == want, f"{name}{combo}: type rule gives {got}, numpy/Theano give {want}"


def test_dtype_rule_nary_and_cast():
    assert T.add(vec("int8"), vec("uint8"), vec("float32")).dtype == "float32"
    assert T.mul(vec("bool"), vec("bool"), vec("bool")).dtype == "bool"
    assert T.mul(vec("int8"), vec("int16"), vec("int32")).dtype == "int32"
    for src, dst in itertools.product(ALL_DTYPES, ALL_DTYPES):
        out = T.cast(vec(src), dst)
        assert out.dtype == dst
    x = vec("float32")
    assert T.cast(x, "float32") is x  # no node when the dtype already matches
    assert scalar_op_of(x.astype("float64")) == "cast"


def test_perform_gives_the_promised_dtype():
    rng = np.random.default_rng(0)
    for name, sop in sorted(SCALAR_OPS.items()):
        nin = 2 if sop.nin < 0 else sop.nin
        for combo in _dtype_combos(nin)[:: 3 if nin == 2 else 1]:
            ins = [vec(d) for d in combo]
            try:
                node = Elemwise(sop).make_node(*ins)
            except TypeError:
                continue
            vals = [(rng.integers(1, 3, size=3)).astype(d) for d in combo]
            out = node.op.perform(node, vals)[0]
            assert out.dtype.name == node.outputs[0].dtype, (name, combo)


# ---------------------------------------------------------------------------------------------
# weak Python scalars (NEP 50 style)


def test_weak_scalars_take_the_tensor_dtype():
    assert (vec("float32") * 0.1).dtype == "float32"
    assert (0.1 * vec("float32")).dtype == "float32"
    assert (vec("float32") * 100000).dtype == "float32"  # a big Python int does not upcast
    assert (vec("float32") ** 2).dtype == "float32"
    assert (vec("float32") ** 2.5).dtype == "float32"
    assert (vec("int32") + 2).dtype == "int32"
    assert (2 + vec("int16")).dtype == "int16"
    assert (vec("uint8") * 3).dtype == "uint8"
    assert (vec("int8") * 2.5).dtype == config.floatX
    assert (vec("bool") + 1).dtype == "int64"
    assert (vec("bool") * 1.5).dtype == config.floatX
    assert (vec("bool") & True).dtype == "bool"
    assert (vec("int64") < 0.5).dtype == "bool"
    assert T.switch(vec("float64"), vec("float32"), 0.5).dtype == "float32"  # condition does not promote
    assert T.clip(vec("float32"), 0.0, 1.0).dtype == "float32"
    assert T.clip(vec("int8"), 0.5, 2.5).dtype == config.floatX


def test_weak_int_keeps_its_small_dtype_next_to_floats():
    x = T.dscalar("x")
    y = x**2
    two = y.owner.inputs[1]
    assert isinstance(two, Constant) and two.dtype == "int8" and two.weak
    assert y.dtype == "float64"


def test_weak_out_of_range_promotes_like_numpy1():
    assert (vec("int8") + 1000).dtype == "int16"
    assert (vec("uint8") + -1).dtype == "int16"
    assert (vec("int16") * 2**40).dtype == "int64"
    f = fn([x := vec("int8")], x + 1000)
    np.testing.assert_array_equal(f(np.array([100, -100], "int8")), [1100, 900])


def test_all_weak_operands():
    d = T.sub(2, 1)
    assert d.dtype == "int8"
    assert pp(d) == "(2 - 1)"
    assert T.add(2, 1.5).dtype == config.floatX
    assert T.add(True, True).dtype == "bool"
    assert T.mul(300, 2).dtype == "int16"


def test_weak_floats_follow_floatX():
    old = config.floatX
    try:
        config.floatX = "float32"
        assert (vec("int8") * 2.5).dtype == "float32"
        assert T.add(2, 1.5).dtype == "float32"
        assert (vec("float64") * 0.5).dtype == "float64"
    finally:
        config.floatX = old


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_weak_scalar_dtypes_match_numpy_nep50(dtype):
    """The tensor dtype wins within a kind; other kinds follow numpy 2 (floats -> floatX)."""
    for value in (2, -3, 2.5, True):
        x = vec(dtype)
        try:
            got = (x + value).dtype
        except TypeError:
            with pytest.raises(TypeError):
                np.ones(2, dtype) + value
            continue
        if isinstance(value, int) and not isinstance(value, bool) and dtype == "uint8" and value < 0:
            want = "int16"  # numpy 2 raises OverflowError; we promote like numpy 1
        else:
            want = (np.ones(2, dtype) + value).dtype.name
        assert got == want, (dtype, value)


def test_numpy_scalars_and_arrays_are_strong():
    assert (vec("int8") + np.int32(1)).dtype == "int32"
    assert (vec("float32") + np.float32(1)).dtype == "float32"
    assert (vec("float32") + np.ones(3)).dtype == "float64"


def test_numpy_float64_scalar_is_strong():
    assert (vec("float32") * np.float64(2.0)).dtype == "float64"


# ---------------------------------------------------------------------------------------------
# broadcasting


def test_runtime_broadcast_error_names_axis_and_shapes():
    x, y = vec("float64", "x"), vec("float64", "y")
    f = fn([x, y], x + y)
    with pytest.raises(ValueError, match=r"axis 0.*\(3,\).*\(4,\)"):
        f(np.ones(3), np.ones(4))
    a, b = T.dmatrix("a"), T.dmatrix("b")
    g = fn([a, b], a * b)
    with pytest.raises(ValueError, match=r"mul.*axis 1"):
        g(np.ones((2, 3)), np.ones((2, 4)))


def test_no_runtime_broadcasting_of_unknown_dims():
    """Theano's rule: a dim broadcasts only if its static length is 1."""
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = fn([a, b], a + b)
    with pytest.raises(ValueError, match="axis 0"):
        f(np.ones((1, 3)), np.ones((2, 3)))
    r = T.drow("r")
    g = fn([r, b], r + b)
    np.testing.assert_array_equal(g(np.ones((1, 3)), np.ones((2, 3))), np.full((2, 3), 2.0))


def test_static_shape_errors_at_build_time():
    a = TensorType("float64", shape=(3, None))("a")
    b = TensorType("float64", shape=(4, None))("b")
    with pytest.raises(ValueError, match=r"add.*axis 0.*'a' of shape \(3, \?\).*'b' of shape \(4, \?\)"):
        a + b
    with pytest.raises(ValueError, match="clip"):
        T.clip(a, b, 1.0)
    c = TensorType("float64", shape=(1, 5))("c")
    out = a + c
    assert out.type.shape == (3, 5)
    assert (T.drow() + T.dcol()).type.shape == (None, None)
    assert (T.drow() * T.drow()).type.shape == (1, None)


def test_left_padding_and_static_shapes():
    x = T.dvector("x")
    m = T.dmatrix("m")
    assert (x + m).ndim == 2
    assert (T.dscalar() + m).type.shape == (None, None)
    f = fn([x, m], x * m)
    np.testing.assert_array_equal(f(np.arange(3.0), np.ones((2, 3))), np.tile(np.arange(3.0), (2, 1)))


def test_rop_of_broadcast_input_has_the_output_shape():
    r = T.drow("r")
    y = r + np.ones((3, 4))
    v = T.drow("v")
    jv = T.Rop(y, r, v)
    assert jv.type.shape[0] != 1
    f = fn([r, v], [jv, T.Rop(T.sum(y), r, v)])
    out, total = f(np.ones((1, 4)), np.full((1, 4), 2.0))
    np.testing.assert_array_equal(out, np.full((3, 4), 2.0))
    assert float(total) == 24.0


# ---------------------------------------------------------------------------------------------
# printing


def test_pp_elementwise():
    x, a, b = T.dscalar("x"), T.dscalar("a"), T.dscalar("b")
    assert pp(x**2) == "(x ** 2)"
    assert pp(-x) == "-x"
    assert pp(T.exp(x)) == "exp(x)"
    assert pp(T.fill(a, b)) == "fill(a, b)"
    assert pp(T.second(a, b)) == "fill(a, b)"
    assert pp(a + b * x) == "(a + (b * x))"
    assert pp(a - b / x // 2 % a) == "(a - (((b / x) // 2) % a))"
    assert pp(-(a + b)) == "-(a + b)"
    assert pp(T.add(a, b, x)) == "(a + b + x)"
    assert pp(a < b) == "(a < b)"
    assert pp(T.eq(a, b)) == "(a == b)"
    assert pp(T.neq(a, b)) == "(a != b)"
    assert pp(T.maximum(a, 0.5)) == "maximum(a, 0.5)"
    assert pp(T.cast(a, "float32")) == "cast{float32}(a)"
    i = T.iscalar("i")
    assert pp(~i) == "~i"
    assert pp((i & 1) | (i ^ i)) == "((i & 1) | (i ^ i))"


def test_pp_seed_gradient():
    x = T.dscalar("x")
    assert pp(T.grad(x**2, x)) == "((fill((x ** 2), 1.0) * 2) * (x ** (2 - 1)))"
    f = ccgrad.function([x], T.grad(x**2, x), mode="py")
    assert float(f(4)) == 8.0


# ---------------------------------------------------------------------------------------------
# Variable operators


def test_variable_operators_build_the_right_ops():
    x, y = T.dvector("x"), T.dvector("y")
    i, j = T.ivector("i"), T.ivector("j")
    table = [
        (x + y, "add"),
        (x - y, "sub"),
        (x * y, "mul"),
        (x / y, "true_div"),
        (x // y, "int_div"),
        (x % y, "mod"),
        (x**y, "pow"),
        (-x, "neg"),
        (abs(x), "abs"),
        (x < y, "lt"),
        (x <= y, "le"),
        (x > y, "gt"),
        (x >= y, "ge"),
        (i & j, "and_"),
        (i | j, "or_"),
        (i ^ j, "xor"),
        (~i, "invert"),
        (T.abs_(x), "abs"),
        (T.sgn(x), "sign"),
        (T.eq(x, y), "eq"),
        (T.neq(x, y), "neq"),
    ]
    for var, name in table:
        assert scalar_op_of(var) == name
    assert +x is x


def test_variable_operators_values():
    x, y = T.dvector("x"), T.dvector("y")
    i, j = T.ivector("i"), T.ivector("j")
    xv, yv = np.array([1.5, -2.0, 3.0]), np.array([0.5, 4.0, -1.5])
    iv, jv = np.array([6, -3, 5], "int32"), np.array([3, 5, -2], "int32")
    outs = [
        x + y,
        x - y,
        x * y,
        x / y,
        x // y,
        x % y,
        abs(x) ** y,
        -x,
        abs(x),
        x < y,
        x <= y,
        x > y,
        x >= y,
        i & j,
        i | j,
        i ^ j,
        ~i,
        i // j,
        i % j,
    ]
    want = [
        xv + yv,
        xv - yv,
        xv * yv,
        xv / yv,
        np.floor(xv / yv),
        xv - np.floor(xv / yv) * yv,
        np.abs(xv) ** yv,
        -xv,
        np.abs(xv),
        xv < yv,
        xv <= yv,
        xv > yv,
        xv >= yv,
        iv & jv,
        iv | jv,
        iv ^ jv,
        -iv - 1,
        np.array([2, -1, -3]),
        np.array([0, 2, -1]),
    ]
    got = fn([x, y, i, j], outs)(xv, yv, iv, jv)
    for k, (g, w) in enumerate(zip(got, want)):
        assert_close(g, np.asarray(w).astype(g.dtype), what=f"output {k}")


def test_reflected_operators_with_python_scalars():
    x = T.dvector("x")
    i = T.ivector("i")
    xv = np.array([0.5, 1.5, 3.0])
    iv = np.array([1, 2, 7], "int32")
    outs = [2 + x, 2 - x, 2 * x, 3 / x, 7 // x, 5 % x, 2**x, 1 < x, 1 <= x, 1 > x, 1 >= x, 6 & i, 6 | i, 6 ^ i]
    ops = ["add", "sub", "mul", "true_div", "int_div", "mod", "pow", "gt", "ge", "lt", "le", "and_", "or_", "xor"]
    for v, name in zip(outs, ops):
        assert scalar_op_of(v) == name
    # reflected forms keep the Python scalar on the left
    assert pp(2 - T.dscalar("s")) == "(2 - s)"
    want = [
        2 + xv,
        2 - xv,
        2 * xv,
        3 / xv,
        np.floor(7 / xv),
        5 - np.floor(5 / xv) * xv,
        2.0**xv,
        1 < xv,
        1 <= xv,
        1 > xv,
        1 >= xv,
        6 & iv,
        6 | iv,
        6 ^ iv,
    ]
    got = fn([x, i], outs)(xv, iv)
    for k, (g, w) in enumerate(zip(got, want)):
        assert_close(g, np.asarray(w).astype(g.dtype), what=f"output {k}")
    assert (6 & i).dtype == "int32" and (2 * x).dtype == "float64"


def test_reflected_operators_with_numpy_on_the_left():
    x = T.dvector("x")
    i = T.ivector("i")
    a = np.array([1.0, 2.0, 4.0])
    outs = [
        a + x,
        a - x,
        a * x,
        a / x,
        a // x,
        a % x,
        a**x,
        a < x,
        a > x,
        np.float64(3.0) - x,
        np.int32(6) & i,
        np.array([1, 2, 3], "int32") | i,
    ]
    for v in outs:
        assert isinstance(v, Variable)
    assert scalar_op_of(a - x) == "sub" and scalar_op_of(a < x) == "gt"
    xv, iv = np.array([0.5, 3.0, 2.0]), np.array([1, 2, 3], "int32")
    want = [
        a + xv,
        a - xv,
        a * xv,
        a / xv,
        np.floor(a / xv),
        a - np.floor(a / xv) * xv,
        a**xv,
        a < xv,
        a > xv,
        3.0 - xv,
        6 & iv,
        np.array([1, 2, 3]) | iv,
    ]
    got = fn([x, i], outs)(xv, iv)
    for k, (g, w) in enumerate(zip(got, want)):
        assert_close(g, np.asarray(w).astype(g.dtype), what=f"output {k}")


def test_eq_is_identity_and_T_eq_is_elementwise():
    x, y = T.dvector("x"), T.dvector("y")
    assert (x == x) is True
    assert (x == y) is False
    assert (x != y) is True
    d = {x: 1, y: 2}
    assert d[x] == 1 and d[y] == 2
    assert x in [x] and y not in [x]
    e = T.eq(x, y)
    assert isinstance(e, Variable) and e.dtype == "bool"
    got = fn([x, y], [e, T.neq(x, y)])(np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    np.testing.assert_array_equal(got[0], [True, False])
    np.testing.assert_array_equal(got[1], [False, True])


def test_bool_of_variable_raises():
    x = T.dscalar("x")
    with pytest.raises(TypeError, match="truth value"):
        bool(x)
    with pytest.raises(TypeError):
        if x < 1:
            pass
    with pytest.raises(TypeError):
        bool(T.eq(x, x))


def test_bitwise_on_floats_and_bool_arithmetic_errors():
    x = T.dvector("x")
    b = vec("bool")
    for build in (lambda: x & x, lambda: x | 1, lambda: 1 ^ x, lambda: ~x, lambda: T.invert(vec("float32"))):
        with pytest.raises(TypeError, match="integer or bool"):
            build()
    for build in (lambda: b - b, lambda: -b, lambda: T.sign(b), lambda: b - True):
        with pytest.raises(TypeError, match="bool"):
            build()
    assert (b - 1).dtype == "int64"  # only bool-with-bool is refused, as numpy


def test_wrong_arity():
    x = T.dvector()
    with pytest.raises(TypeError, match="takes 3 inputs"):
        T.switch(x, x)
    with pytest.raises(TypeError, match="takes 1 inputs"):
        T.exp(x, x)


# ---------------------------------------------------------------------------------------------
# gradients that the table cannot check with finite differences


def test_cast_gradients_flow_in_float_dtypes():
    x = T.dvector("x")
    y = T.sum(T.cast(x, "float32") * 3)
    g = T.grad(y, x)
    assert g.dtype == "float64"
    np.testing.assert_array_equal(fn([x], g)(np.ones(3)), np.full(3, 3.0))
    v = T.dvector("v")
    r = T.Rop(T.cast(x, "float32"), x, v)
    assert r.dtype == "float32"
    np.testing.assert_array_equal(fn([x, v], r)(np.ones(2), np.array([1.0, 2.0])), [1.0, 2.0])
    # through an integer cast nothing flows (zero gradient, still connected)
    gi = T.grad(T.sum(T.cast(x, "int32") * 1.0), x)
    np.testing.assert_array_equal(fn([x], gi)(np.array([1.5, 2.5])), [0.0, 0.0])


def test_nondifferentiable_rows_give_zero_gradients():
    x, y = T.dvector("x"), T.dvector("y")
    for build in (T.floor, T.ceil, T.round, T.trunc, T.sign):
        g = T.grad(T.sum(build(x)), x)
        np.testing.assert_array_equal(fn([x], g)(np.array([0.3, -1.7])), [0.0, 0.0])
    g = T.grad(T.sum(x // y), [x, y])
    for gv in fn([x, y], g)(np.array([3.0, 5.0]), np.array([2.0, 2.0])):
        np.testing.assert_array_equal(gv, [0.0, 0.0])


def test_minmax_ties_and_switch_gradients():
    x, y = T.dvector("x"), T.dvector("y")
    gx, gy = T.grad(T.sum(T.maximum(x, y)), [x, y])
    gxv, gyv = fn([x, y], [gx, gy])(np.array([1.0, 3.0, 2.0]), np.array([2.0, 1.0, 2.0]))
    np.testing.assert_array_equal(gxv, [0.0, 1.0, 1.0])  # ties pass the gradient to both (Theano)
    np.testing.assert_array_equal(gyv, [1.0, 0.0, 1.0])
    c = vec("bool", "c")
    ga, gb = T.grad(T.sum(T.switch(c, x * 2, y * 3)), [x, y])
    gav, gbv = fn([c, x, y], [ga, gb])(np.array([True, False]), np.ones(2), np.ones(2))
    np.testing.assert_array_equal(gav, [2.0, 0.0])
    np.testing.assert_array_equal(gbv, [0.0, 3.0])


# ---------------------------------------------------------------------------------------------
# the C expression of every row, compiled and compared with the numpy reference

_SPECIAL = {
    "bool": [0, 1],
    "int8": [0, 1, -1, 2, -2, 3, -7, 7, 127, -128, 100, -100],
    "uint8": [0, 1, 2, 3, 7, 100, 128, 200, 255],
    "int16": [0, 1, -1, 2, -2, 3, -7, 7, 32767, -32768, 300, -300],
    "int32": [0, 1, -1, 2, -2, 3, -7, 7, 2**31 - 1, -(2**31), 70000, -70000],
    "int64": [0, 1, -1, 2, -2, 3, -7, 7, 2**63 - 1, -(2**63), 2**40, -(2**40)],
    "float32": [
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        1.0,
        -1.0,
        3.0,
        -7.0,
        0.3,
        20.0,
        -20.0,
        1e-3,
        np.inf,
        -np.inf,
        np.nan,
    ],
    "float64": [
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        1.0,
        -1.0,
        3.0,
        -7.0,
        0.3,
        20.0,
        -20.0,
        1e-3,
        700.0,
        -700.0,
        1e300,
        np.inf,
        -np.inf,
        np.nan,
    ],
}
_MIXED_PAIRS = [
    ("int8", "float32"),
    ("uint8", "int8"),
    ("bool", "int8"),
    ("int32", "float32"),
    ("int64", "float64"),
    ("bool", "float64"),
    ("int16", "uint8"),
    ("float32", "float64"),
]


def _operands(combo, rng):
    """Value arrays for one dtype combination: every pair of special values for binary ops."""
    lists = [_SPECIAL[d] for d in combo]
    if len(combo) == 1:
        cols = [lists[0]]
    elif len(combo) == 2:
        cols = list(zip(*itertools.product(*lists)))
    else:
        cols = [[rng.choice(np.array(lst, dtype=object)) for _ in range(150)] for lst in lists]
    return [np.array(c, dtype=d) for c, d in zip(cols, combo)]


def _cast_values(src: str, dst: str, values: np.ndarray) -> np.ndarray:
    """Drop the values whose conversion C leaves undefined (NaN/inf/out of range to integers)."""
    if src in dtypes.FLOATS and dst not in dtypes.FLOATS and dst != "bool":
        info = np.iinfo(dst)
        with np.errstate(all="ignore"):
            t = np.trunc(values.astype("float64"))
            keep = np.isfinite(t) & (t >= info.min) & (t <= info.max)
        return values[keep]
    return values


def _kernels():
    """(scalar op, input dtypes) pairs covering every row, with the dtype combinations it allows."""
    todo = []
    for name, sop in sorted(SCALAR_OPS.items()):
        nin = 2 if sop.nin < 0 else sop.nin
        if nin == 1:
            combos = [(d,) for d in ALL_DTYPES]
        elif nin == 2:
            combos = [(d, d) for d in ALL_DTYPES] + _MIXED_PAIRS
        elif name == "switch":
            combos = [("bool", d, d) for d in ALL_DTYPES] + [("float64", "int8", "float32"), ("int32", "bool", "bool")]
        else:
            combos = [(d, d, d) for d in ALL_DTYPES] + [("float32", "float64", "int8")]
        for combo in combos:
            try:
                Elemwise(sop).make_node(*[vec(d) for d in combo])
            except TypeError:
                continue
            todo.append((sop, combo))
    for src, dst in itertools.product(ALL_DTYPES, ALL_DTYPES):
        if src != dst:
            todo.append((cast_op(dst), (src,)))
    return todo


@pytest.fixture(scope="module")
def c_kernels(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    todo = _kernels()
    lines = ['#include "ccgrad_rt.h"', '#include "ccgrad_vmath.h"']
    for k, (sop, combo) in enumerate(todo):
        node = Elemwise(sop).make_node(*[vec(d) for d in combo])
        out = node.outputs[0].dtype
        expr = sop.c([f"a{n}[i]" for n in range(len(combo))], list(combo), out)
        params = ", ".join(f"const {dtypes.c_type(d)} *a{n}" for n, d in enumerate(combo))
        lines.append(
            f"void k{k}(int64_t n, {params}, {dtypes.c_type(out)} *out) "
            f"{{ for (int64_t i = 0; i < n; i++) out[i] = {expr}; }}"
        )
    d = tmp_path_factory.mktemp("ewc")
    src, lib = d / "kernels.c", d / "kernels.so"
    src.write_text("\n".join(lines) + "\n")
    res = subprocess.run(
        [cc, "-O2", "-std=c99", "-fPIC", "-shared", "-I", csrc_dir(), "-o", str(lib), str(src), "-lm"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, f"C expressions do not compile:\n{res.stderr[:4000]}"
    return todo, ctypes.CDLL(str(lib))


def test_c_expressions_match_numpy(c_kernels):
    todo, lib = c_kernels
    rng = np.random.default_rng(3)
    failures = []
    for k, (sop, combo) in enumerate(todo):
        node = Elemwise(sop).make_node(*[vec(d) for d in combo])
        out_dtype = node.outputs[0].dtype
        vals = _operands(combo, rng)
        if sop.name == "cast":
            vals = [_cast_values(combo[0], out_dtype, vals[0])]
        expected = node.op.perform(node, vals)[0]
        got = np.empty(expected.shape, dtype=out_dtype)
        args = [ctypes.c_int64(got.size)] + [ctypes.c_void_p(v.ctypes.data) for v in vals]
        getattr(lib, f"k{k}")(*args, ctypes.c_void_p(got.ctypes.data))
        label = f"{sop}{combo}"
        try:
            if out_dtype == "bool":
                np.testing.assert_array_equal(got.view("uint8"), expected.view("uint8"), err_msg=label)
            else:
                assert_close(got, expected, dtype=out_dtype, what=label)
        except AssertionError as exc:
            failures.append(f"{label} on {[v.tolist() for v in vals]}: {str(exc)[:300]}")
    assert not failures, f"{len(failures)} C expressions disagree with numpy:\n" + "\n".join(failures[:10])
