"""Op table cases for ccgrad/ops/fused.py: Fused nodes built by hand (the fusion pass builds
them from Elemwise regions; here each program is written out, with an independent numpy ref)."""

import numpy as np

from ccgrad.ops.fused import Fused
from ccgrad.ops.scalar import SCALAR_OPS, cast_op
from tests.optable import Arg, Case

S = SCALAR_OPS


def fused(steps, reduce=None):
    return lambda *xs: Fused(steps, reduce)(*xs)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# s = sigmoid(x); s * (1 - s)
LOGISTIC_GRAD = [
    (S["sigmoid"], (("in", 0),), "float64"),
    (S["sub"], (("const", "float64", 1.0), ("step", 0)), "float64"),
    (S["mul"], (("step", 0), ("step", 1)), "float64"),
]
# exp(a + b) * 2  (a row, b column)
ROW_COL = [
    (S["add"], (("in", 0), ("in", 1)), "float64"),
    (S["exp"], (("step", 0),), "float64"),
    (S["mul"], (("step", 1), ("const", "int8", 2)), "float64"),
]
# a * b (summed / maxed by the reduce cases)
PRODUCT = [(S["mul"], (("in", 0), ("in", 1)), "float64")]
# tanh(x) * 0.5 + y in float32
F32 = [
    (S["tanh"], (("in", 0),), "float32"),
    (S["mul"], (("step", 0), ("const", "float32", 0.5)), "float32"),
    (S["add"], (("step", 1), ("in", 1)), "float32"),
]
# (a + b) * a in int32, then sqrt of the float64 cast
INTS = [
    (S["add"], (("in", 0), ("in", 1)), "int32"),
    (S["mul"], (("step", 0), ("in", 0)), "int32"),
]
INT_TO_FLOAT = [
    (S["abs"], (("in", 0),), "int32"),
    (cast_op("float64"), (("step", 0),), "float64"),
    (S["sqrt"], (("step", 1),), "float64"),
]
# x * x - 3 * x   (the input used twice, a step used twice)
SHARED = [
    (S["mul"], (("in", 0), ("in", 0)), "float64"),
    (S["mul"], (("const", "float64", 3.0), ("in", 0)), "float64"),
    (S["sub"], (("step", 0), ("step", 1)), "float64"),
]
# fill(a, b) + b: the shape comes from a
FILL = [
    (S["second"], (("in", 0), ("in", 1)), "float64"),
    (S["add"], (("step", 0), ("in", 1)), "float64"),
]

M = Arg(shape=(3, 4))
ROW = Arg(shape=(1, 4), static=(1, None))
COL = Arg(shape=(3, 1), static=(None, 1))

CASES: list[Case] = [
    Case("fused_logistic_grad", fused(LOGISTIC_GRAD), [M], lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    Case("fused_logistic_grad_f", fused(LOGISTIC_GRAD), [Arg(shape=(3, 4), layout="f")],
         lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    Case("fused_logistic_grad_strided", fused(LOGISTIC_GRAD), [Arg(shape=(3, 4), layout="strided")],
         lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    Case("fused_logistic_grad_reversed", fused(LOGISTIC_GRAD), [Arg(shape=(5,), layout="reversed")],
         lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    Case("fused_logistic_grad_empty", fused(LOGISTIC_GRAD), [Arg(shape=(0, 3))],
         lambda x: _sigmoid(x) * (1 - _sigmoid(x)), grad=False),
    Case("fused_scalar", fused(SHARED), [Arg(shape=())], lambda x: x * x - 3 * x),
    Case("fused_row_col", fused(ROW_COL), [ROW, COL], lambda a, b: np.exp(a + b) * 2),
    Case("fused_shared_steps", fused(SHARED), [M], lambda x: x * x - 3 * x),
    Case("fused_fill", fused(FILL), [COL, ROW], lambda a, b: np.broadcast_to(b, (3, 4)) + b),
    Case("fused_sum_axis1", fused(PRODUCT, ("sum", (1,))), [M, ROW], lambda a, b: np.sum(a * b, axis=1)),
    Case("fused_sum_all", fused(PRODUCT, ("sum", (0, 1))), [COL, ROW], lambda a, b: np.sum(a * b)),
    Case("fused_max_axis0", fused(PRODUCT, ("max", (0,))), [Arg(shape=(3, 4), low=0.5), Arg(shape=(3, 4), low=0.5)],
         lambda a, b: np.max(a * b, axis=0)),
    Case("fused_prod_axis0", fused(PRODUCT, ("prod", (0,))), [M, ROW], lambda a, b: np.prod(a * b, axis=0)),
    Case("fused_min_empty", fused(PRODUCT, ("min", (1,))), [Arg(shape=(0, 3)), Arg(shape=(0, 3))],
         lambda a, b: np.min(a * b, axis=1), grad=False),
    Case("fused_sum_empty", fused(PRODUCT, ("sum", (0,))), [Arg(shape=(0, 3)), Arg(shape=(0, 3))],
         lambda a, b: np.sum(a * b, axis=0)),
    Case("fused_float32", fused(F32), [Arg("float32", (3, 4)), Arg("float32", (1, 4), (1, None))],
         lambda x, y: np.tanh(x) * np.float32(0.5) + y, rtol=1e-6),
    Case("fused_int32", fused(INTS), [Arg("int32", (3, 4), low=-50, high=50), Arg("int32", (3, 4), low=-50, high=50)],
         lambda a, b: (a + b) * a),
    Case("fused_int32_sum", fused(INTS, ("sum", (0,))), [Arg("int32", (3, 4), low=-9, high=9),
                                                         Arg("int32", (3, 4), low=-9, high=9)],
         lambda a, b: np.sum((a + b) * a, axis=0, dtype="int64")),
    Case("fused_int_to_float", fused(INT_TO_FLOAT), [Arg("int32", (3, 4), low=-20, high=20)],
         lambda a: np.sqrt(np.abs(a).astype("float64"))),
    Case("fused_shape_mismatch", fused(PRODUCT), [Arg(shape=(3,)), Arg(shape=(4,))], lambda a, b: a,
         expect_error=ValueError),
    Case("fused_max_empty_axis", fused(PRODUCT, ("max", (0,))), [Arg(shape=(0, 3)), Arg(shape=(0, 3))],
         lambda a, b: a, expect_error=ValueError),
]
