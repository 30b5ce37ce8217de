"""Op table cases for ccgrad/ops/shape.py: Shape, ShapeI, DimShuffle, Alloc, SpecifyShapeLike,
Reshape (and the reshape / flatten / shape_pad* builders)."""

import numpy as np

import ccgrad.tensor as T
from tests.optable import Arg, Case


class Arg0(Arg):
    """An Arg that stays 0-d when its shape is () (optable.relayout promotes 0-d to 1-d)."""

    def make(self, rng):
        return np.asarray(super().make(rng)).reshape(self.shape)


def I(value, dtype="int64"):  # noqa: E743  (an integer input with a fixed value)
    return Arg0(dtype=dtype, shape=np.shape(value), value=value)


M = Arg(shape=(3, 4))

CASES: list[Case] = [
    # -- Shape / ShapeI
    Case("shape_mat", lambda a: T.shape(a), [Arg(shape=(3, 4))], lambda a: np.array([3, 4]), grad=False),
    Case("shape_empty_i32", lambda a: a.shape, [Arg("int32", shape=(0, 2, 5))],
         lambda a: np.array([0, 2, 5]), grad=False),
    Case("shape_scalar", lambda a: a.shape, [Arg0(shape=())], lambda a: np.zeros(0, "int64"), grad=False),
    Case("shape_i_last", lambda a: a.shape[-1], [Arg("float32", shape=(2, 5))], lambda a: np.int64(5),
         grad=False),
    Case("shape_i_builder", lambda a: T.shape_i(a, 0), [Arg(shape=(0, 3))], lambda a: np.int64(0), grad=False),
    Case("shape_i_scales_grad", lambda a: a * T.cast(a.shape[0], "float64") + T.cast(T.shape(a)[1], "float64"),
         [Arg(shape=(3, 2))], lambda a: a * 3 + 2),
    Case("shape_i_out_of_range", lambda a: T.shape_i(a, 2), [Arg(shape=(3, 2))], None, expect_error=IndexError),
    # -- DimShuffle
    Case("dimshuffle_transpose_f", lambda a: a.T, [Arg(shape=(3, 4), layout="f")], lambda a: a.T.copy(),
         grad=False),  # optable.fd_vjp loses perturbations of Fortran-ordered copies
    Case("dimshuffle_perm3_strided", lambda a: a.dimshuffle(2, 0, 1), [Arg(shape=(2, 3, 4), layout="strided")],
         lambda a: np.transpose(a, (2, 0, 1))),
    Case("dimshuffle_add_axes", lambda a: a.dimshuffle("x", 0, "x", 1), [M],
         lambda a: a[None, :, None, :]),
    Case("dimshuffle_drop_col", lambda a: a.dimshuffle(0), [Arg(shape=(3, 1), static=(None, 1))],
         lambda a: a[:, 0]),
    Case("dimshuffle_drop_and_swap", lambda a: a.dimshuffle(2, "x", 0), [Arg(shape=(2, 1, 3), static=(None, 1, None))],
         lambda a: np.transpose(a[:, 0, :])[:, None, :]),
    Case("dimshuffle_int8_reversed", lambda a: a.transpose(1, 0), [Arg("int8", shape=(3, 2), low=-9, high=9,
                                                                       layout="reversed")],
         lambda a: a.T),
    Case("dimshuffle_f32_empty", lambda a: a.T, [Arg("float32", shape=(0, 3))], lambda a: a.T),
    Case("dimshuffle_pad_builders",
         lambda a: [T.shape_padleft(a), T.shape_padright(a, 2), T.shape_padaxis(a, 1), a.squeeze()],
         [Arg(shape=(2, 1), static=(None, 1))],
         lambda a: [a[None], a[:, :, None, None], a[:, None, :], a[:, 0]]),
    Case("dimshuffle_drop_nonbroadcastable", lambda a: a.dimshuffle(0), [Arg(shape=(3, 2))], None,
         expect_error=ValueError),
    Case("transpose_bad_axes", lambda a: a.transpose(0, 0), [Arg(shape=(3, 2))], None, expect_error=ValueError),
    # -- Alloc
    Case("alloc_scalar_static", lambda a: T.alloc(a, 2, 3), [Arg0(shape=())], lambda a: np.full((2, 3), a)),
    Case("alloc_vector_to_matrix", lambda a: T.alloc(a, 3, a.shape[0]), [Arg(shape=(4,))],
         lambda a: np.tile(a, (3, 1))),
    Case("alloc_symbolic_dims", lambda a, n: T.alloc(a, n, 2, a.shape[0]), [Arg(shape=(3,)), I(4)],
         lambda a, n: np.broadcast_to(a, (4, 2, 3)).copy()),
    Case("alloc_row_broadcast", lambda a: T.alloc(a, 3, 4), [Arg(shape=(1, 4), static=(1, None))],
         lambda a: np.repeat(a, 3, axis=0)),
    Case("alloc_int32_empty", lambda a: T.alloc(a, 0, 3), [Arg("int32", shape=(3,), low=-5, high=5)],
         lambda a: np.zeros((0, 3), "int32"), grad=False),
    Case("alloc_f32_col", lambda a, n: T.alloc(a, 2, n), [Arg("float32", shape=(2, 1), static=(None, 1)), I(3, "int8")],
         lambda a, n: np.repeat(a, 3, axis=1)),
    Case("alloc_length_mismatch", lambda a: T.alloc(a, 2, 4), [Arg(shape=(3,))], None, expect_error=ValueError),
    Case("alloc_runtime_length_one", lambda a: T.alloc(a, 2, 4), [Arg(shape=(1,))], None, expect_error=ValueError),
    Case("alloc_negative_dim", lambda a, n: T.alloc(a, n), [Arg0(shape=()), I(-1)], None, expect_error=ValueError),
    Case("alloc_static_mismatch", lambda a: T.alloc(a, 2, 4), [Arg(shape=(3,), static=(3,))], None,
         expect_error=ValueError),
    # -- SpecifyShapeLike
    Case("specify_shape_like", lambda a, b: T.specify_shape_like(a, b) * 2, [M, Arg(shape=(3, 4))],
         lambda a, b: 2 * a, wrt=(0,)),
    Case("specify_shape_like_mismatch", lambda a, b: T.specify_shape_like(a, b), [Arg(shape=(3,)), Arg(shape=(4,))],
         None, expect_error=ValueError),
    Case("specify_shape_like_ndim", lambda a, b: T.specify_shape_like(a, b), [Arg(shape=(3,)), M], None,
         expect_error=ValueError),
    # -- Reshape / flatten
    Case("reshape_const", lambda a: a.reshape((4, 3)), [Arg(shape=(2, 6))], lambda a: a.reshape(4, 3)),
    Case("reshape_minus_one_f", lambda a: a.reshape((-1, 2)), [Arg(shape=(3, 4), layout="f")],
         lambda a: np.reshape(a, (6, 2)), grad=False),
    Case("reshape_minus_one", lambda a: a.reshape((2, -1, 2)), [M], lambda a: np.reshape(a, (2, 3, 2))),
    Case("reshape_symbolic_entry", lambda a, n: T.reshape(a, (n, -1, 2)), [Arg(shape=(3, 4)), I(3, "int32")],
         lambda a, n: a.reshape(3, 2, 2)),
    Case("reshape_symbolic_minus_one", lambda a, n: T.reshape(a, (n, 4)), [Arg(shape=(3, 4)), I(-1)],
         lambda a, n: a.copy()),
    Case("reshape_shape_vector", lambda a, s: T.reshape(a, s, ndim=2), [Arg(shape=(12,)), I([4, 3])],
         lambda a, s: a.reshape(4, 3)),
    Case("reshape_like_other", lambda a, b: a.reshape(b.shape), [Arg(shape=(6,)), Arg(shape=(2, 3))],
         lambda a, b: a.reshape(2, 3), wrt=(0,)),
    Case("reshape_to_scalar_and_back", lambda a: a.reshape(()).reshape((1, 1)), [Arg(shape=(1,))],
         lambda a: a.reshape(1, 1)),
    Case("reshape_int16_reversed", lambda a: a.reshape((2, 3)), [Arg("int16", shape=(3, 2), low=-99, high=99,
                                                                     layout="reversed")],
         lambda a: a.reshape(2, 3)),
    Case("reshape_f32_empty", lambda a: a.reshape((-1, 3)), [Arg("float32", shape=(0, 3))],
         lambda a: a.reshape(0, 3)),
    Case("reshape_static_size_error", lambda a: a.reshape((4, 2)), [Arg(shape=(2, 3), static=(2, 3))], None,
         expect_error=ValueError),
    Case("reshape_runtime_size_error", lambda a: a.reshape((4, 2)), [Arg(shape=(2, 3))], None,
         expect_error=ValueError),
    Case("reshape_two_minus_ones", lambda a: a.reshape((-1, -1)), [Arg(shape=(2, 3))], None,
         expect_error=ValueError),
    Case("reshape_vector_needs_ndim", lambda a, s: T.reshape(a, s), [Arg(shape=(4,)), I([2, 2])], None,
         expect_error=ValueError),
    Case("flatten_default", lambda a: a.flatten(), [Arg(shape=(2, 3, 2), layout="strided")],
         lambda a: a.reshape(-1)),
    Case("flatten_keep_two", lambda a: T.flatten(a, 2), [Arg(shape=(2, 3, 2))], lambda a: a.reshape(2, 6)),
    Case("flatten_empty_middle", lambda a: T.flatten(a, 2), [Arg(shape=(0, 0, 3))], lambda a: np.zeros((0, 0))),
    Case("flatten_bad_ndim", lambda a: T.flatten(a, 3), [M], None, expect_error=ValueError),
    # -- views of views and non-contiguous inputs (C: views, run-time contiguity, copies)
    Case("reshape_of_transpose", lambda a: a.T.reshape((2, -1)), [M], lambda a: a.T.reshape(2, 6)),
    Case("reshape_of_row_slice", lambda a: a[1:].reshape((-1,)) * 2, [M], lambda a: 2 * a[1:].ravel()),
    Case("reshape_of_reversed_view", lambda a: a[::-1].reshape((2, 2, 3)), [M],
         lambda a: a[::-1].reshape(2, 2, 3)),
    Case("reshape_symbolic_negative", lambda a, n: T.reshape(a, (n, -1)), [M, I(-2)], None,
         expect_error=ValueError),
    Case("dimshuffle_of_slice", lambda a: a[::-1, 1:].dimshuffle(1, "x", 0), [M],
         lambda a: np.transpose(a[::-1, 1:])[:, None, :]),
    Case("alloc_of_view", lambda a: T.alloc(a[::-1], 2, 3), [Arg(shape=(3,))], lambda a: np.tile(a[::-1], (2, 1))),
    Case("shape_of_view", lambda a: T.shape(a[1:, ::2]), [M], lambda a: np.array([2, 2]), grad=False),
]
