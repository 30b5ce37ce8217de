"""Op table cases for ccgrad/ops/linalg.py: Dot (every vector/matrix combination), MatMul
(batched products), and the builders dot, matmul / @, batched_dot, tensordot, outer."""

import numpy as np

import ccgrad.tensor as T
from tests.optable import Arg, Case


def _mm(a, b):
    """Independent matrix product: explicit sum of broadcast products."""
    return (a[..., :, :, None] * b[..., None, :, :]).sum(axis=-2)


def _td(a, b, axes):
    return np.tensordot(a, b, axes)


V3, V4 = Arg(shape=(3,)), Arg(shape=(4,))
M23, M34, M43 = Arg(shape=(2, 3)), Arg(shape=(3, 4)), Arg(shape=(4, 3))

CASES: list[Case] = [
    # ---- Dot: vec.vec, mat.vec, vec.mat, mat.mat
    Case("dot_vv", lambda a, b: T.dot(a, b), [V3, V3], lambda a, b: (a * b).sum()),
    Case("dot_mv", lambda a, b: T.dot(a, b), [M34, V4], lambda a, b: (a * b[None, :]).sum(axis=1)),
    Case("dot_vm", lambda a, b: T.dot(a, b), [V3, M34], lambda a, b: (a[:, None] * b).sum(axis=0)),
    Case("dot_mm", lambda a, b: T.dot(a, b), [M23, M34], _mm),
    Case("dot_method", lambda a, b: a.dot(b), [M34, M43], _mm),
    Case("dot_matmul_operator", lambda a, b: a @ b, [M23, M34], _mm),
    Case("dot_scalar_mat", lambda a, b: T.dot(T.sum(a), b), [V3, M23], lambda a, b: a.sum() * b),
    Case("dot_static", lambda a, b: T.dot(a, b), [Arg(shape=(2, 3), static=(2, 3)), Arg(shape=(3, 4), static=(3, 4))],
         _mm),
    Case("dot_row_col", lambda a, b: T.dot(a, b),
         [Arg(shape=(1, 3), static=(1, None)), Arg(shape=(3, 1), static=(None, 1))], _mm),
    Case("dot_col_row", lambda a, b: T.dot(a, b),
         [Arg(shape=(3, 1), static=(None, 1)), Arg(shape=(1, 4), static=(1, None))], lambda a, b: a * b),
    Case("dot_f32", lambda a, b: T.dot(a, b), [Arg("float32", (2, 3)), Arg("float32", (3, 4))], _mm),
    Case("dot_f32_f64", lambda a, b: T.dot(a, b), [Arg("float32", (2, 3)), Arg(shape=(3,))],
         lambda a, b: (a.astype("float64") * b).sum(axis=1)),
    Case("dot_int32", lambda a, b: T.dot(a, b),
         [Arg("int32", (2, 3), low=-9, high=9), Arg("int32", (3, 4), low=-9, high=9)],
         _mm),
    Case("dot_int8_wraps", lambda a, b: T.dot(a, b),
         [Arg("int8", (4,), low=100, high=127), Arg("int8", (4,), low=1, high=2)],
         lambda a, b: (a.astype("int64") * b).sum().astype("int8")),
    Case("dot_int_float32", lambda a, b: T.dot(a, b), [Arg("int16", (2, 3), low=-9, high=9), Arg("float32", (3,))],
         lambda a, b: (a * b.astype("float32")).sum(axis=1)),
    Case("dot_int_float64_grad", lambda a, b: T.dot(a, b), [Arg("int32", (2, 3), low=-3, high=3), Arg(shape=(3, 2))],
         _mm),
    Case("dot_bool", lambda a, b: T.dot(a, b), [Arg("bool", (2, 3)), Arg("bool", (3,))],
         lambda a, b: (a & b[None, :]).any(axis=1)),
    Case("dot_empty_inner", lambda a, b: T.dot(a, b), [Arg(shape=(2, 0)), Arg(shape=(0, 3))],
         lambda a, b: np.zeros((2, 3))),
    Case("dot_empty_outer", lambda a, b: T.dot(a, b), [Arg(shape=(0, 3)), Arg(shape=(3, 2))],
         lambda a, b: np.zeros((0, 2))),
    Case("dot_empty_vv", lambda a, b: T.dot(a, b), [Arg(shape=(0,)), Arg(shape=(0,))], lambda a, b: np.float64(0)),
    Case("dot_layout_f", lambda a, b: T.dot(a, b), [Arg(shape=(2, 3), layout="f"), Arg(shape=(3, 4), layout="f")], _mm,
         grad=False),
    Case("dot_layout_strided", lambda a, b: T.dot(a, b),
         [Arg(shape=(2, 3), layout="strided"), Arg(shape=(3,), layout="strided")],
         lambda a, b: (a * b).sum(axis=1)),
    Case("dot_layout_reversed", lambda a, b: T.dot(a, b),
         [Arg(shape=(3,), layout="reversed"), Arg(shape=(3, 4), layout="reversed")],
         lambda a, b: (a[:, None] * b).sum(axis=0)),
    Case("dot_transposed_input", lambda a, b: T.dot(a.T, b), [M34, Arg(shape=(3, 2))], lambda a, b: _mm(a.T, b)),
    Case("dot_err_static_inner", lambda a, b: T.dot(a, b),
         [Arg(shape=(2, 3), static=(2, 3)), Arg(shape=(4,), static=(4,))],
         None, expect_error=ValueError),
    Case("dot_err_runtime_inner", lambda a, b: T.dot(a, b), [M23, M43], None, expect_error=ValueError),
    Case("dot_err_vv_runtime", lambda a, b: T.dot(a, b), [V3, V4], None, expect_error=ValueError),
    # ---- numpy dot for N-d operands (through MatMul)
    Case("dot_3d_2d", lambda a, b: T.dot(a, b), [Arg(shape=(2, 2, 3)), M34], lambda a, b: _mm(a, b)),
    Case("dot_3d_1d", lambda a, b: T.dot(a, b), [Arg(shape=(2, 2, 3)), V3], lambda a, b: (a * b).sum(axis=-1)),
    Case("dot_1d_3d", lambda a, b: T.dot(a, b), [V3, Arg(shape=(2, 3, 4))],
         lambda a, b: (a[None, :, None] * b).sum(axis=1)),
    Case("dot_2d_3d", lambda a, b: T.dot(a, b), [M23, Arg(shape=(2, 3, 4))],
         lambda a, b: np.einsum("ik,jkl->ijl", a, b)),
    Case("dot_3d_3d", lambda a, b: T.dot(a, b), [Arg(shape=(2, 2, 3)), Arg(shape=(2, 3, 2))],
         lambda a, b: np.einsum("ijk,lkm->ijlm", a, b)),
    # ---- matmul (MatMul for rank >= 3)
    Case("matmul_3d", lambda a, b: T.matmul(a, b), [Arg(shape=(2, 2, 3)), Arg(shape=(2, 3, 4))], _mm),
    Case("matmul_3d_operator", lambda a, b: a @ b, [Arg(shape=(2, 2, 3)), Arg(shape=(2, 3, 4))], _mm),
    Case("matmul_bcast_static", lambda a, b: T.matmul(a, b),
         [Arg(shape=(1, 2, 3), static=(1, None, None)), Arg(shape=(3, 3, 2))], _mm),
    Case("matmul_3d_2d", lambda a, b: T.matmul(a, b), [Arg(shape=(2, 2, 3)), M34], _mm),
    Case("matmul_2d_3d", lambda a, b: T.matmul(a, b), [M23, Arg(shape=(2, 3, 4))], lambda a, b: _mm(a[None], b)),
    Case("matmul_3d_vec", lambda a, b: T.matmul(a, b), [Arg(shape=(2, 2, 3)), V3], lambda a, b: (a * b).sum(-1)),
    Case("matmul_vec_3d", lambda a, b: T.matmul(a, b), [V3, Arg(shape=(2, 3, 4))], lambda a, b: (a[:,
         None] * b).sum(-2)),
    Case("matmul_4d_3d", lambda a, b: T.matmul(a, b),
         [Arg(shape=(2, 1, 2, 3), static=(None, 1, None, None)), Arg(shape=(2, 3, 2))], _mm),
    Case("matmul_f32", lambda a, b: T.matmul(a, b), [Arg("float32", (2, 2, 3)), Arg("float32", (2, 3, 2))], _mm),
    Case("matmul_int", lambda a, b: T.matmul(a, b),
         [Arg("int16", (2, 2, 3), low=-9, high=9), Arg("int8", (2, 3, 2), low=-9, high=9)],
         lambda a, b: _mm(a.astype("int16"), b.astype("int16"))),
    Case("matmul_empty_batch", lambda a, b: T.matmul(a, b), [Arg(shape=(0, 2, 3)), Arg(shape=(0, 3, 4))],
         lambda a, b: np.zeros((0, 2, 4))),
    Case("matmul_layouts", lambda a, b: T.matmul(a, b),
         [Arg(shape=(2, 2, 3), layout="reversed"), Arg(shape=(2, 3, 2), layout="strided")], _mm),
    Case("matmul_err_scalar", lambda a, b: T.matmul(T.sum(a), b), [V3, V3], None, expect_error=ValueError),
    Case("matmul_err_batch", lambda a, b: T.matmul(a, b), [Arg(shape=(2, 2, 3)), Arg(shape=(3, 3, 2))], None,
         expect_error=ValueError),
    Case("matmul_err_static_batch", lambda a, b: T.matmul(a, b),
         [Arg(shape=(2, 2, 3), static=(2, None, None)), Arg(shape=(3, 3, 2), static=(3, None, None))], None,
         expect_error=ValueError),
    Case("matmul_err_inner", lambda a, b: T.matmul(a, b), [Arg(shape=(2, 2, 3)), Arg(shape=(2, 4, 2))], None,
         expect_error=ValueError),
    # ---- batched_dot
    Case("batched_dot_mm", lambda a, b: T.batched_dot(a, b), [Arg(shape=(3, 2, 3)), Arg(shape=(3, 3, 2))], _mm),
    Case("batched_dot_vv", lambda a, b: T.batched_dot(a, b), [Arg(shape=(3, 4)), Arg(shape=(3, 4))],
         lambda a, b: (a * b).sum(axis=1)),
    Case("batched_dot_mv", lambda a, b: T.batched_dot(a, b), [Arg(shape=(3, 2, 4)), Arg(shape=(3, 4))],
         lambda a, b: (a * b[:, None, :]).sum(axis=2)),
    # ---- tensordot
    Case("tensordot_axes1", lambda a, b: T.tensordot(a, b, 1), [M23, M34], _mm),
    Case("tensordot_axes0", lambda a, b: T.tensordot(a, b, 0), [V3, V4], lambda a, b: a[:, None] * b[None, :]),
    Case("tensordot_axes2", lambda a, b: T.tensordot(a, b), [M34, M34], lambda a, b: (a * b).sum()),
    Case("tensordot_pair00", lambda a, b: T.tensordot(a, b, ([0], [0])), [M34, Arg(shape=(3, 2))],
         lambda a, b: _mm(a.T, b)),
    Case("tensordot_pair_ints", lambda a, b: T.tensordot(a, b, (1, 1)), [M34, Arg(shape=(2, 4))],
         lambda a, b: _mm(a, b.T)),
    Case("tensordot_pair_swapped", lambda a, b: T.tensordot(a, b, ([0, 1], [1, 0])), [M34, M43],
         lambda a, b: (a * b.T).sum()),
    Case("tensordot_3d", lambda a, b: T.tensordot(a, b, ([1, 2], [1, 0])), [Arg(shape=(2, 3, 4)), Arg(shape=(4, 3, 2))],
         lambda a, b: _td(a, b, ([1, 2], [1, 0]))),
    Case("tensordot_int", lambda a, b: T.tensordot(a, b, 2),
         [Arg("int8", (2, 3), low=-5, high=5), Arg("int8", (2, 3), low=-5, high=5)],
         lambda a, b: np.int8((a.astype("int64") * b).sum())),
    Case("tensordot_err_len", lambda a, b: T.tensordot(a, b, ([0], [0])),
         [Arg(shape=(3, 4), static=(3, 4)), Arg(shape=(2, 4), static=(2, 4))], None, expect_error=ValueError),
    Case("tensordot_err_axes", lambda a, b: T.tensordot(a, b, 3), [M34, M34], None, expect_error=ValueError),
    # ---- outer
    Case("outer_vv", lambda a, b: T.outer(a, b), [V3, V4], lambda a, b: np.multiply.outer(a, b)),
    Case("outer_mat_flattens", lambda a, b: T.outer(a, b), [M23, V3], lambda a, b: np.outer(a.ravel(), b)),
    Case("outer_int_f32", lambda a, b: T.outer(a, b), [Arg("int8", (3,), low=-5, high=5), Arg("float32", (2,))],
         lambda a, b: np.outer(a, b)),
]
