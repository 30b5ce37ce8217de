"""Op table cases for ccgrad/ops/subtensor.py: Subtensor, AdvancedSubtensor1, AdvancedSubtensor,
IncSubtensor, AdvancedIncSubtensor1, AdvancedIncSubtensor."""

import numpy as np

import ccgrad.tensor as T
from tests.cases.shape_cases import Arg0, I
from tests.optable import Arg, Case

V = Arg(shape=(6,))
M = Arg(shape=(3, 4))
T3 = Arg(shape=(2, 3, 4))


def _add_at(x, index, y):
    """x with y added at `index`, one position at a time (a reference for np.add.at)."""
    out = x.copy()
    idx = np.broadcast_arrays(*[np.asarray(i) for i in index])
    yb = np.broadcast_to(y, idx[0].shape + out.shape[len(index):])
    for pos in np.ndindex(idx[0].shape):
        out[tuple(i[pos] for i in idx)] += yb[pos]
    return out


def _set_rows(x, rows, y):
    out = x.copy()
    yb = np.broadcast_to(y, (len(rows),) + x.shape[1:])
    for k, r in enumerate(rows):
        out[r] = yb[k]
    return out


CASES: list[Case] = [
    # -- Subtensor: constant ints and slices
    Case("sub_int", lambda a: a[1], [M], lambda a: a[1, :]),
    Case("sub_neg_int", lambda a: a[-1, -2], [M], lambda a: np.float64(a[2, 2])),
    Case("sub_slice", lambda a: a[1:5], [V], lambda a: a[[1, 2, 3, 4]]),
    Case("sub_reverse", lambda a: a[::-1], [V], lambda a: a[[5, 4, 3, 2, 1, 0]]),
    Case("sub_neg_step_bounds", lambda a: a[4:0:-2], [V], lambda a: a[[4, 2]]),
    Case("sub_neg_step_neg_bounds", lambda a: a[-1:-5:-3], [V], lambda a: a[[5, 2]]),
    Case("sub_clamped", lambda a: a[-100:100:2], [V], lambda a: a[[0, 2, 4]]),
    Case("sub_empty_slice", lambda a: a[4:1], [V], lambda a: np.zeros(0)),
    Case("sub_mixed_2d_f", lambda a: a[1, ::-1], [Arg(shape=(3, 4), layout="f")], lambda a: a[1][[3, 2, 1, 0]],
         grad=False),  # optable.fd_vjp loses perturbations of Fortran-ordered copies
    Case("sub_mixed_2d", lambda a: a[1:, ::-2], [M], lambda a: a[1:3][:, [3, 1]]),
    Case("sub_strided_tail", lambda a: a[:, -2:], [Arg(shape=(3, 4), layout="strided")], lambda a: a[:, 2:4]),
    Case("sub_ellipsis", lambda a: a[..., 1], [T3], lambda a: a[:, :, 1]),
    Case("sub_newaxis", lambda a: a[None, :, 1], [M], lambda a: a[:, 1].reshape(1, 3)),
    Case("sub_newaxis_ellipsis", lambda a: a[..., None, 0], [M], lambda a: a[:, :1].reshape(3, 1)),
    Case("sub_full", lambda a: a[:], [M], lambda a: a + 0),
    Case("sub_int32_reversed", lambda a: a[::-1, 1:], [Arg("int32", shape=(3, 4), low=-50, high=50,
                                                             layout="reversed")],
         lambda a: np.flipud(a)[:, 1:]),
    Case("sub_f32", lambda a: a[1::2, 0], [Arg("float32", shape=(5, 2))], lambda a: a[[1, 3], 0]),
    Case("sub_bool_data", lambda a: a[1:], [Arg("bool", shape=(3,))], lambda a: a[1:]),
    Case("sub_empty_input", lambda a: a[:, 1], [Arg(shape=(0, 3))], lambda a: np.zeros(0)),
    Case("sub_static_shape", lambda a: a[1:, ::-1][0], [Arg(shape=(3, 4), static=(3, 4))], lambda a: a[1, ::-1]),
    # -- Subtensor: symbolic indices
    Case("sub_sym_int", lambda a, i: a[i], [M, I(2)], lambda a, i: a[2]),
    Case("sub_sym_neg_int", lambda a, i: a[:, i], [M, I(-3, "int8")], lambda a, i: a[:, 1]),
    Case("sub_sym_bounds", lambda a, i, j: a[i:j], [V, I(1), I(-1, "int32")], lambda a, i, j: a[1:5]),
    Case("sub_sym_neg_step", lambda a, s: a[::s], [V, I(-2)], lambda a, s: a[[5, 3, 1]]),
    Case("sub_sym_step_pos", lambda a, s: a[1::s], [V, I(3, "uint8")], lambda a, s: a[[1, 4]]),
    Case("sub_sym_all", lambda a, i, j, s: a[i:j:s, j], [M, I(2), I(0), I(-1)], lambda a, i, j, s: a[[2, 1], 0]),
    Case("sub_shape_index", lambda a: a[a.shape[0] - 1], [M], lambda a: a[2]),
    # -- Subtensor: errors
    Case("sub_oob_runtime", lambda a, i: a[i], [V, I(6)], None, expect_error=IndexError),
    Case("sub_oob_neg_runtime", lambda a, i: a[:, i], [M, I(-5)], None, expect_error=IndexError),
    Case("sub_oob_static", lambda a: a[3], [Arg(shape=(3,), static=(3,))], None, expect_error=IndexError),
    Case("sub_step_zero_runtime", lambda a, s: a[::s], [V, I(0)], None, expect_error=ValueError),
    Case("sub_step_zero_build", lambda a: a[::0], [V], None, expect_error=ValueError),
    Case("sub_too_many", lambda a: a[0, 0], [V], None, expect_error=IndexError),
    Case("sub_float_index", lambda a, f: a[f], [V, Arg0(shape=())], None, expect_error=TypeError),
    Case("sub_bool_mask", lambda a, m: a[m], [V, Arg("bool", shape=(6,))], None, expect_error=NotImplementedError),
    # -- AdvancedSubtensor1
    Case("adv1_const_list", lambda a: a[[2, 0, 2]], [M], lambda a: np.stack([a[2], a[0], a[2]])),
    Case("adv1_sym_repeats", lambda a, i: a[i], [V, I([5, 1, 1, -6])], lambda a, i: a[[5, 1, 1, 0]]),
    Case("adv1_rows_int32", lambda a, i: a[i, :], [Arg(shape=(4, 3)), I([3, 0], "int32")],
         lambda a, i: a[3::-3]),
    Case("adv1_empty_index", lambda a, i: a[i], [M, Arg("int64", shape=(0,))], lambda a, i: np.zeros((0, 4))),
    Case("adv1_f32_uint8", lambda a, i: a[i], [Arg("float32", shape=(5,)), I([4, 4, 0], "uint8")],
         lambda a, i: np.array([a[4], a[4], a[0]])),
    Case("adv1_int_data", lambda a, i: a[i], [Arg("int64", shape=(4,), low=0, high=9), I([3, 1])],
         lambda a, i: np.array([a[3], a[1]])),
    Case("adv1_take", lambda a, i: T.take(a, i, axis=0), [M, I([1, 1])], lambda a, i: np.stack([a[1], a[1]])),
    Case("adv1_oob", lambda a, i: a[i], [V, I([0, 6])], None, expect_error=IndexError),
    # -- AdvancedSubtensor
    Case("adv_arange_pairs", lambda p, y: p[T.arange(y.shape[0]), y], [Arg(shape=(4, 3)), I([2, 0, 1, 2])],
         lambda p, y: np.array([p[0, 2], p[1, 0], p[2, 1], p[3, 2]])),
    Case("adv_vec_then_int", lambda a, i: a[i, 1], [M, I([2, 0, 2])],
         lambda a, i: np.array([a[2, 1], a[0, 1], a[2, 1]])),
    Case("adv_slice_then_vec", lambda a, i: a[:, i], [M, I([3, -1, 0])], lambda a, i: a.T[[3, 3, 0]].T),
    Case("adv_slice_sym_then_vec", lambda a, i, j: a[j:, i], [M, I([1, 1]), I(1)], lambda a, i, j: a[1:][:, [1, 1]]),
    Case("adv_noncontiguous", lambda a, i, j: a[i, :, j], [T3, I([1, 0]), I([3, 2])],
         lambda a, i, j: np.stack([a[1, :, 3], a[0, :, 2]])),
    Case("adv_contiguous_middle", lambda a, i, j: a[:, i, j], [T3, I([2, 0]), I([3, 3])],
         lambda a, i, j: np.stack([a[:, 2, 3], a[:, 0, 3]], axis=1)),
    Case("adv_broadcast_index", lambda a, i, j: a[i, j], [M, I([[0], [2]]), I([1, 3, 0])],
         lambda a, i, j: np.array([[a[r, c] for c in (1, 3, 0)] for r in (0, 2)])),
    Case("adv_matrix_index", lambda a, i: a[i, 0], [Arg(shape=(4, 2)), I([[0, 3], [3, 1]], "int8")],
         lambda a, i: np.array([[a[0, 0], a[3, 0]], [a[3, 0], a[1, 0]]])),
    Case("adv_matrix_index_rows", lambda a, i: a[i], [Arg(shape=(4, 2)), I([[0, 3], [3, 1]])],
         lambda a, i: np.stack([np.stack([a[0], a[3]]), np.stack([a[3], a[1]])])),
    Case("adv_f32_newaxis", lambda a, i: a[None, i, ::-1], [Arg("float32", shape=(3, 2)), I([1, 2])],
         lambda a, i: np.stack([a[1, ::-1], a[2, ::-1]])[None]),
    Case("adv_int_data_empty",
         lambda a, i: a[i, i], [Arg("int16", shape=(3, 3), low=-9, high=9), Arg("int64", shape=(0,))],
         lambda a, i: np.zeros(0, "int16")),
    Case("adv_oob", lambda a, i: a[1, i], [M, I([0, 4])], None, expect_error=IndexError),
    Case("adv_bad_broadcast", lambda a, i, j: a[i, j], [M, I([0, 1]), I([0, 1, 2])], None, expect_error=IndexError),
    # -- IncSubtensor
    Case("set_slice", lambda a, b: T.set_subtensor(a[1:3], b), [V, Arg(shape=(2,))],
         lambda a, b: np.concatenate([a[:1], b, a[3:]])),
    Case("inc_neg_step_col", lambda a, b: T.inc_subtensor(a[::-1, 1], b), [M, Arg(shape=(3,))],
         lambda a, b: a + np.outer(b[::-1], [0, 1, 0, 0])),
    Case("inc_scalar_broadcast", lambda a, b: T.inc_subtensor(a[1:, ::2], b), [M, Arg0(shape=())],
         lambda a, b: a + b * np.array([[0, 0, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0]])),
    Case("set_row_broadcast", lambda a, b: T.set_subtensor(a[:2], b), [M, Arg(shape=(1, 4), static=(1, None))],
         lambda a, b: np.concatenate([b, b, a[2:]])),
    Case("set_vector_into_rows", lambda a, b: T.set_subtensor(a[1:], b), [M, Arg(shape=(4,))],
         lambda a, b: np.stack([a[0], b, b])),
    Case("inc_sym_index", lambda a, b, i: T.inc_subtensor(a[i, i:], b), [M, Arg(shape=(3,)), I(1)],
         lambda a, b, i: a + np.pad(np.outer([0, 1, 0], b), ((0, 0), (1, 0)))),
    Case("set_int_element", lambda a, b: T.set_subtensor(a[-1, 0], b), [M, Arg0(shape=())],
         lambda a, b: np.where(np.arange(12).reshape(3, 4) == 8, b, a)),
    Case("set_whole", lambda a, b: T.set_subtensor(a[...], b), [M, Arg(shape=(4,))],
         lambda a, b: np.stack([b, b, b])),
    Case("set_weak_python_scalar", lambda a: T.set_subtensor(a[1], 0), [M], lambda a: a * [[1], [0], [1]]),
    Case("inc_f32_strided", lambda a, b: T.inc_subtensor(a[:, 1:3], b), [Arg("float32", shape=(2, 4), layout="strided"),
                                                                           Arg("float32", shape=(2, 2))],
         lambda a, b: a + np.pad(b, ((0, 0), (1, 1)))),
    Case("inc_int_data", lambda a, b: T.inc_subtensor(a[::2], b), [Arg("int32", shape=(5,), low=-9, high=9),
                                                                   Arg("int8", shape=(3,), low=-9, high=9)],
         lambda a, b: a + np.array([b[0], 0, b[1], 0, b[2]], "int32")),
    Case("inc_empty_region", lambda a, b: T.inc_subtensor(a[2:2], b), [V, Arg(shape=(0,))], lambda a, b: a + 0),
    Case("inc_f32_with_f64_y", lambda a, b: T.set_subtensor(a[0], b), [Arg("float32", shape=(2,)), Arg0(shape=())],
         None, expect_error=TypeError),
    Case("set_shape_mismatch", lambda a, b: T.set_subtensor(a[1:3], b), [V, Arg(shape=(3,))], None,
         expect_error=ValueError),
    Case("set_runtime_length_one", lambda a, b: T.set_subtensor(a[1:3], b), [V, Arg(shape=(1,))], None,
         expect_error=ValueError),
    Case("set_too_many_dims", lambda a, b: T.set_subtensor(a[1], b), [M, M], None, expect_error=ValueError),
    Case("set_not_a_subtensor", lambda a, b: T.set_subtensor(a, b), [V, V], None, expect_error=TypeError),
    # -- AdvancedIncSubtensor1
    Case("inc_adv1_repeated", lambda a, b, i: T.inc_subtensor(a[i], b), [V, Arg(shape=(4,)), I([1, 3, 1, -1])],
         lambda a, b, i: _add_at(a, (i,), b)),
    Case("set_adv1_rows", lambda a, b, i: T.set_subtensor(a[i], b), [M, Arg(shape=(2, 4)), I([2, 0])],
         lambda a, b, i: _set_rows(a, [2, 0], b)),
    Case("inc_adv1_row_broadcast", lambda a, b, i: T.inc_subtensor(a[i], b),
         [M, Arg(shape=(1, 4), static=(1, None)), I([0, 0, 2], "int32")], lambda a, b, i: _add_at(a, (i,), b)),
    Case("inc_adv1_f32_empty", lambda a, b, i: T.inc_subtensor(a[i], b),
         [Arg("float32", shape=(3,)), Arg("float32", shape=(0,)), Arg("int64", shape=(0,))], lambda a, b, i: a),
    Case("inc_adv1_oob", lambda a, b, i: T.inc_subtensor(a[i], b), [V, Arg(shape=(1,)), I([6])], None,
         expect_error=IndexError),
    # -- AdvancedIncSubtensor
    Case("inc_adv_pairs_repeated", lambda a, b, i, j: T.inc_subtensor(a[i, j], b),
         [M, Arg(shape=(3,)), I([1, 1, 2]), I([0, 0, 3])], lambda a, b, i, j: _add_at(a, (i, j), b)),
    Case("set_adv_arange", lambda p, y: T.set_subtensor(p[T.arange(p.shape[0]), y], 0.0), [M, I([3, 0, 1])],
         lambda p, y: np.where(np.arange(4)[None] == np.array([3, 0, 1])[:, None], 0, p)),
    Case("inc_adv_slice_vec", lambda a, b, i: T.inc_subtensor(a[1:, i], b), [M, Arg(shape=(2, 2)), I([3, 3])],
         lambda a, b, i: a + np.pad(np.stack([np.zeros(2), np.zeros(2), np.zeros(2), b.sum(1)], 1), ((1, 0), (0, 0)))),
    Case("inc_adv_noncontiguous", lambda a, b, i, j: T.inc_subtensor(a[i, :, j], b),
         [T3, Arg(shape=(2, 3)), I([1, 1]), I([0, 0])], lambda a, b, i, j: _add_at(a.transpose(0, 2, 1), (i, j), b)
         .transpose(0, 2, 1)),
    Case("inc_adv_int_data", lambda a, i: T.inc_subtensor(a[i, i], 5), [Arg("int64", shape=(3, 3), low=0, high=9),
                                                                         I([0, 2, 0])],
         lambda a, i: a + np.diag([10, 0, 5])),
    # -- views of views, extreme bounds and steps, indexing through views, run-time errors
    Case("sub_view_of_view", lambda a: a[1:, ::-1][::-1, 1::2][:, ::-1], [T3],
         lambda a: a[1:, ::-1][::-1, 1::2][:, ::-1]),
    Case("sub_sym_extreme_bounds", lambda a, i, j, s: a[i:j:s], [V, I(2**62), I(-(2**62)), I(-2)],
         lambda a, i, j, s: a[[5, 3, 1]]),
    Case("sub_sym_huge_step", lambda a, s: a[1::s], [V, I(2**62)], lambda a, s: a[1:2]),
    Case("sub_sym_min_step", lambda a, s: a[::s], [V, I(-(2**63))], lambda a, s: a[5:]),
    Case("adv1_of_view", lambda a, i: a[::-1][i], [M, I([0, 2, -1])], lambda a, i: a[[2, 0, 0]]),
    Case("adv_of_transpose", lambda a, i: a.T[i, 1:], [M, I([3, 0])], lambda a, i: a.T[[3, 0], 1:]),
    Case("set_adv1_through_view", lambda a, b, i: T.set_subtensor(a[:, ::-1][i], b), [M, Arg(shape=(4,)), I([1])],
         lambda a, b, i: np.stack([a[0, ::-1], b, a[2, ::-1]])),
    Case("inc_into_transpose", lambda a, b: T.inc_subtensor(a.T[1:3], b), [M, Arg(shape=(2, 3))],
         lambda a, b: a.T + np.pad(b, ((1, 1), (0, 0)))),
    Case("adv_oob_negative", lambda a, i: a[i], [V, I([0, -7])], None, expect_error=IndexError),
    Case("inc_sym_oob", lambda a, i: T.inc_subtensor(a[i], 1.0), [M, I(3)], None, expect_error=IndexError),
    Case("inc_adv_oob_second_axis", lambda a, i: T.set_subtensor(a[:, i], 0.0), [M, I([4])], None,
         expect_error=IndexError),
]
