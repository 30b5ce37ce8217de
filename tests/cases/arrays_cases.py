"""Op table cases for ccgrad/ops/arrays.py: Join (concatenate / join / stack), ARange, Eye,
ExtractDiag, AllocDiag, and the composites tile, repeat, zeros, ones."""

import numpy as np

import ccgrad.tensor as T
from tests.cases.shape_cases import Arg0, I
from tests.optable import Arg, Case

M = Arg(shape=(3, 4))


def _tri(n, m, k):
    return np.array([[1.0 if c - r == k else 0.0 for c in range(m)] for r in range(n)])


CASES: list[Case] = [
    # -- Join / concatenate / stack
    Case("join_axis0", lambda a, b: T.concatenate([a, b]), [M, Arg(shape=(2, 4))],
         lambda a, b: np.vstack([a, b])),
    Case("join_axis1_three", lambda a, b, c: T.concatenate([a, b, c], axis=1),
         [M, Arg(shape=(3, 1)), Arg(shape=(3, 2), layout="strided")], lambda a, b, c: np.hstack([a, b, c])),
    Case("join_neg_axis_fn",
         lambda a, b: T.join(-1, a, b), [Arg(shape=(2, 2, 3)), Arg(shape=(2, 2, 1), layout="reversed")],
         lambda a, b: np.dstack([a, b])),
    Case("join_empty_piece", lambda a, b: T.concatenate([a, b]), [Arg(shape=(0, 3)), Arg(shape=(2, 3))],
         lambda a, b: b + 0),
    Case("join_int_mixed", lambda a, b: T.concatenate([a, b]), [Arg("int8", shape=(2,), low=-9, high=9),
                                                                Arg("int32", shape=(3,), low=-9, high=9)],
         lambda a, b: np.array(list(a) + list(b), "int32")),
    Case("join_f32_f64", lambda a, b: T.concatenate([a, b]), [Arg("float32", shape=(2,)), Arg(shape=(1,))],
         lambda a, b: np.array([a[0], a[1], b[0]], "float64")),
    Case("join_static_len", lambda a, b: T.concatenate([a, b])[4], [Arg(shape=(3,), static=(3,)), Arg(shape=(2,))],
         lambda a, b: b[1]),
    Case("join_mismatch_runtime", lambda a, b: T.concatenate([a, b]), [M, Arg(shape=(2, 3))], None,
         expect_error=ValueError),
    Case("join_mismatch_static", lambda a, b: T.concatenate([a, b]), [Arg(shape=(3, 4), static=(3, 4)),
                                                                      Arg(shape=(2, 3), static=(2, 3))],
         None, expect_error=ValueError),
    Case("join_ndim_mismatch", lambda a, b: T.concatenate([a, b]), [M, Arg(shape=(4,))], None,
         expect_error=ValueError),
    Case("stack_vectors", lambda a, b: T.stack([a, b]), [Arg(shape=(3,)), Arg(shape=(3,))],
         lambda a, b: np.array([a, b])),
    Case("stack_axis1", lambda a, b: T.stack([a, b], axis=1), [Arg(shape=(3,)), Arg(shape=(3,))],
         lambda a, b: np.array([a, b]).T),
    Case("stack_scalars_list", lambda a, n: T.as_tensor_variable([a, 2 * a, n]), [Arg0(shape=()), I(3, "int32")],
         lambda a, n: np.array([a, 2 * a, 3.0]), wrt=(0,)),
    Case("stack_int_scalars", lambda n: T.stack([n, 7, n * 2]), [I(-4, "int16")],
         lambda n: np.array([-4, 7, -8], "int16")),
    Case("hstack_vstack", lambda a, b: [T.horizontal_stack(a, b), T.vertical_stack(a, b)], [M, Arg(shape=(3, 4))],
         lambda a, b: [np.hstack([a, b]), np.vstack([a, b])]),
    # -- ARange
    Case("arange_int", lambda n: T.arange(n), [I(5, "int32")], lambda n: np.array([0, 1, 2, 3, 4])),
    Case("arange_const", lambda: T.arange(2, 11, 3), [], lambda: np.array([2, 5, 8])),
    Case("arange_neg_step", lambda a, b, s: T.arange(a, b, s), [I(7), I(-2), I(-3, "int8")],
         lambda a, b, s: np.array([7, 4, 1])),
    Case("arange_empty", lambda a, b: T.arange(a, b), [I(5), I(2)], lambda a, b: np.zeros(0, "int64")),
    Case("arange_float_grad",
         lambda s, d: T.arange(s, 5.3, d) ** 2, [Arg0(shape=(), value=0.25), Arg0(shape=(), value=0.9)],
         lambda s, d: (0.25 + 0.9 * np.arange(6)) ** 2),
    Case("arange_float32", lambda s: T.arange(s, 2.0, 0.5), [Arg0("float32", shape=(), value=0.25)],
         lambda s: np.array([0.25, 0.75, 1.25, 1.75], "float32")),
    Case("arange_of_shape", lambda a: T.arange(a.shape[0]) * a, [Arg(shape=(4,))], lambda a: np.arange(4) * a),
    Case("arange_step_zero_runtime", lambda s: T.arange(0, 5, s), [I(0)], None, expect_error=ValueError),
    Case("arange_step_zero_build", lambda: T.arange(0, 5, 0), [], None, expect_error=ValueError),
    # -- Eye
    Case("eye_const", lambda: T.eye(3), [], lambda: np.identity(3)),
    Case("eye_sym_offset", lambda n, m, k: T.eye(n, m, k), [I(3), I(5), I(2)], lambda n, m, k: _tri(3, 5, 2)),
    Case("eye_neg_offset_int32", lambda n: T.eye(n, 2, -1, dtype="int32"), [I(3)],
         lambda n: _tri(3, 2, -1).astype("int32")),
    Case("eye_empty", lambda n: T.eye(n), [I(0)], lambda n: np.zeros((0, 0))),
    Case("eye_identity_like", lambda a: T.identity_like(a) * a, [M], lambda a: a * _tri(3, 4, 0)),
    Case("eye_negative", lambda n: T.eye(n), [I(-2)], None, expect_error=ValueError),
    # -- ExtractDiag / AllocDiag
    Case("diag_extract", lambda a: T.diag(a), [Arg(shape=(3, 3))], lambda a: np.array([a[0, 0], a[1, 1], a[2, 2]])),
    Case("diag_extract_wide_offset", lambda a: T.diag(a, 2), [Arg(shape=(2, 5))],
         lambda a: np.array([a[0, 2], a[1, 3]])),
    Case("diag_extract_tall_neg", lambda a: T.diag(a, -1), [Arg(shape=(4, 2), layout="f")],
         lambda a: np.array([a[1, 0], a[2, 1]]), grad=False),  # optable.fd_vjp and Fortran order
    Case("diag_extract_tall_neg_c", lambda a: T.diag(a, -2), [Arg(shape=(4, 2))],
         lambda a: np.array([a[2, 0], a[3, 1]])),
    Case("diag_extract_empty", lambda a: T.diag(a, 4), [M], lambda a: np.zeros(0)),
    Case("diagonal_3d_axes", lambda a: T.diagonal(a, 1, 0, 2), [Arg(shape=(3, 2, 4))],
         lambda a: np.stack([a[:, :, 1:][i, :, i] for i in range(3)], axis=1)),
    Case("diagonal_3d_adjacent", lambda a: T.diagonal(a, 0, 2, 1), [Arg(shape=(2, 3, 3), layout="strided")],
         lambda a: np.stack([a[:, i, i] for i in range(3)], axis=1)),
    Case("diag_extract_int_static", lambda a: T.diag(a), [Arg("int32", shape=(2, 3), static=(2, 3), low=-5, high=5)],
         lambda a: np.array([a[0, 0], a[1, 1]])),
    Case("diag_alloc", lambda v: T.diag(v), [Arg(shape=(3,))], lambda v: v[:, None] * np.identity(3)),
    Case("diag_alloc_offset", lambda v: T.diag(v, 2), [Arg(shape=(2,))],
         lambda v: _tri(4, 4, 2) * np.r_[v, 0, 0][:, None]),
    Case("diag_alloc_neg_offset_f32", lambda v: T.diag(v, -1), [Arg("float32", shape=(2,))],
         lambda v: (_tri(3, 3, -1) * np.r_[0, v][:, None]).astype("float32")),
    Case("diag_alloc_empty", lambda v: T.diag(v), [Arg(shape=(0,))], lambda v: np.zeros((0, 0))),
    Case("diag_bad_ndim", lambda a: T.diag(a), [Arg(shape=(2, 2, 2))], None, expect_error=ValueError),
    # -- composites: tile, repeat, zeros, ones
    Case("tile_vector", lambda v: T.tile(v, (2, 3)), [Arg(shape=(2,))], lambda v: np.array([list(v) * 3] * 2)),
    Case("tile_matrix_sym", lambda a, r: T.tile(a, (r, 1)), [Arg(shape=(2, 3)), I(2)], lambda a, r: np.vstack([a, a])),
    Case("tile_int_zero_reps", lambda a: T.tile(a, 0), [Arg("int8", shape=(3,), low=-5, high=5)],
         lambda a: np.zeros(0, "int8")),
    Case("repeat_scalar_axis", lambda a: T.repeat(a, 2, axis=1), [Arg(shape=(2, 3))],
         lambda a: a[:, [0, 0, 1, 1, 2, 2]]),
    Case("repeat_flat", lambda a, r: T.repeat(a, r), [Arg(shape=(2, 2)), I(3, "int32")],
         lambda a, r: np.array([x for x in a.ravel() for _ in range(3)])),
    Case("repeat_counts", lambda a: T.repeat(a, [2, 0, 1], axis=0), [Arg(shape=(3, 2))],
         lambda a: np.stack([a[0], a[0], a[2]])),
    Case("repeat_counts_wrong_length", lambda a: T.repeat(a, [2, 0, 1], axis=0), [Arg(shape=(4, 2))], None,
         expect_error=ValueError),
    Case("zeros_ones", lambda a: [T.zeros((2, 3)), T.ones(a.shape, dtype="int32"), T.zeros(4, dtype="float32")],
         [M], lambda a: [np.zeros((2, 3)), np.ones((3, 4), "int32"), np.zeros(4, "float32")]),
    # -- views as inputs, extreme values, run-time errors
    Case("join_views", lambda a, b: T.concatenate([a.T, b[::-1]], axis=1), [M, Arg(shape=(4, 2))],
         lambda a, b: np.hstack([a.T, b[::-1]])),
    Case("diag_of_slice", lambda a: T.diag(a[::-1, 1:]), [M], lambda a: np.diagonal(a[::-1, 1:])),
    Case("eye_huge_offset", lambda n, k: T.eye(n, 5, k), [I(3), I(2**62)], lambda n, k: np.zeros((3, 5))),
    Case("arange_float_step_zero_runtime", lambda s: T.arange(0.0, 1.0, s), [Arg0(shape=(), value=0.0)], None,
         expect_error=ValueError),
    Case("join_mismatch_second_piece", lambda a, b, c: T.concatenate([a, b, c], axis=1),
         [M, Arg(shape=(3, 1)), Arg(shape=(2, 2))], None, expect_error=ValueError),
]
