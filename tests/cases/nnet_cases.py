"""Op table cases for ccgrad/ops/nnet.py (T.nnet): Softmax, LogSoftmax, OneHot and the
composite activations and losses."""

import numpy as np

import ccgrad.tensor as T
from tests.optable import Arg, Case

LARGE = [[800.0, 799.5, -800.0, 0.0], [-800.0, -799.0, -800.0, -801.0], [1.0, 2.0, 3.0, 4.0]]


def _softmax(x, axis=-1):
    """Reference through logaddexp (independent of the max-shift formula)."""
    return np.exp(x - np.logaddexp.reduce(x, axis=axis, keepdims=True))


def _log_softmax(x, axis=-1):
    return x - np.logaddexp.reduce(x, axis=axis, keepdims=True)


def _sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def _ufs(x):
    a = np.abs(x) * 0.5
    z = np.where(a < 1.7, 1.5 * a / (1 + a),
                 np.where(a < 3, 0.935409070603099 + 0.0458812946797165 * (a - 1.7), 0.99505475368673))
    return 0.5 * (np.sign(x) * z + 1)


M34 = Arg(shape=(3, 4))
PROBS = Arg(shape=(3, 4), low=0.1, high=0.9)

CASES: list[Case] = [
    # ---- softmax
    Case("softmax_mat", lambda x: T.nnet.softmax(x), [M34], _softmax),
    Case("softmax_registered", lambda x: T.softmax(x), [M34], _softmax),
    Case("softmax_vec", lambda x: T.nnet.softmax(x), [Arg(shape=(5,))], _softmax),
    Case("softmax_3d", lambda x: T.nnet.softmax(x), [Arg(shape=(2, 3, 4))], _softmax),
    Case("softmax_axis0", lambda x: T.nnet.softmax(x, axis=0), [M34], lambda x: _softmax(x, 0)),
    Case("softmax_large", lambda x: T.nnet.softmax(x), [Arg(shape=(3, 4), value=LARGE)], _softmax),
    Case("softmax_large_neg_axis0", lambda x: T.nnet.softmax(x, axis=-2), [Arg(shape=(4, 3), value=np.array(LARGE).T)],
         lambda x: _softmax(x, 0)),
    Case("softmax_row_static", lambda x: T.nnet.softmax(x), [Arg(shape=(1, 4), static=(1, None))], _softmax),
    Case("softmax_single_class", lambda x: T.nnet.softmax(x), [Arg(shape=(3, 1), static=(None, 1))],
         lambda x: np.ones_like(x)),
    Case("softmax_f32", lambda x: T.nnet.softmax(x), [Arg("float32", (3, 4))], _softmax),
    Case("softmax_f32_large", lambda x: T.nnet.softmax(x), [Arg("float32", (3, 4), value=LARGE)],
         lambda x: _softmax(x.astype("float64")).astype("float32")),
    Case("softmax_int", lambda x: T.nnet.softmax(x), [Arg("int32", (2, 3), low=-5, high=5)],
         lambda x: _softmax(x.astype("float64"))),
    Case("softmax_empty_rows", lambda x: T.nnet.softmax(x), [Arg(shape=(0, 3))], lambda x: np.zeros((0, 3))),
    Case("softmax_empty_axis", lambda x: T.nnet.softmax(x), [Arg(shape=(3, 0))], lambda x: np.zeros((3, 0))),
    Case("softmax_layout_f", lambda x: T.nnet.softmax(x), [Arg(shape=(3, 4), layout="f")], _softmax, grad=False),
    Case("softmax_layout_reversed", lambda x: T.nnet.softmax(x), [Arg(shape=(3, 4), layout="reversed")], _softmax),
    Case("softmax_layout_strided", lambda x: T.nnet.softmax(x), [Arg(shape=(3, 4), layout="strided")], _softmax),
    Case("softmax_err_0d", lambda x: T.nnet.softmax(T.sum(x)), [M34], None, expect_error=TypeError),
    Case("softmax_err_axis", lambda x: T.nnet.softmax(x, axis=2), [M34], None, expect_error=ValueError),
    # ---- log_softmax
    Case("log_softmax_mat", lambda x: T.nnet.log_softmax(x), [M34], _log_softmax),
    Case("log_softmax_registered", lambda x: T.log_softmax(x), [Arg(shape=(4,))], _log_softmax),
    Case("logsoftmax_alias_3d", lambda x: T.nnet.logsoftmax(x), [Arg(shape=(2, 2, 3))], _log_softmax),
    Case("log_softmax_axis0", lambda x: T.nnet.log_softmax(x, axis=0), [M34], lambda x: _log_softmax(x, 0)),
    Case("log_softmax_large", lambda x: T.nnet.log_softmax(x), [Arg(shape=(3, 4), value=LARGE)], _log_softmax),
    Case("log_softmax_f32", lambda x: T.nnet.log_softmax(x), [Arg("float32", (3, 4), value=LARGE)],
         lambda x: _log_softmax(x.astype("float64")).astype("float32"), atol=1e-4),
    Case("log_softmax_int", lambda x: T.nnet.log_softmax(x), [Arg("int8", (2, 3), low=-5, high=5)],
         lambda x: _log_softmax(x.astype("float64")).astype("float32")),
    Case("log_softmax_empty", lambda x: T.nnet.log_softmax(x), [Arg(shape=(0, 4))], lambda x: np.zeros((0, 4))),
    Case("log_softmax_layout_strided", lambda x: T.nnet.log_softmax(x), [Arg(shape=(3, 4), layout="strided")],
         _log_softmax),
    # ---- activations
    Case("nnet_sigmoid", lambda x: T.nnet.sigmoid(x), [M34], _sigmoid),
    Case("nnet_softplus", lambda x: T.nnet.softplus(x), [M34], lambda x: np.log1p(np.exp(x))),
    Case("relu", lambda x: T.nnet.relu(x), [Arg(shape=(3, 4), value=[[-1.5, 0.3, 1.2, -0.4], [0.7, -2, 1.9, 0.1],
                                                                     [-0.2, -0.9, 0.6, 1.1]])],
         lambda x: np.maximum(x, 0)),
    Case("relu_registered", lambda x: T.relu(x), [M34], lambda x: x * (x > 0)),
    Case("relu_alpha", lambda x: T.nnet.relu(x, 0.1), [M34], lambda x: np.where(x > 0, x, 0.1 * x)),
    Case("relu_symbolic_alpha", lambda x, a: T.nnet.relu(x, T.sum(a)), [M34, Arg(shape=(1,), value=[0.3])],
         lambda x, a: np.where(x > 0, x, a[0] * x)),
    Case("relu_f32", lambda x: T.nnet.relu(x), [Arg("float32", (3, 4))], lambda x: np.maximum(x, 0)),
    Case("relu_int", lambda x: T.nnet.relu(x), [Arg("int32", (3, 4), low=-5, high=5)], lambda x: np.maximum(x, 0)),
    Case("elu", lambda x: T.nnet.elu(x), [M34], lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    Case("elu_large", lambda x: T.nnet.elu(x, 0.5), [Arg(shape=(4,), value=[800.0, -800.0, 1.0, -1.0])],
         lambda x: np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0)))),
    Case("selu", lambda x: T.nnet.selu(x), [M34],
         lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0)))),
    Case("softsign", lambda x: T.nnet.softsign(x), [M34], lambda x: x / (1 + np.abs(x))),
    Case("hard_sigmoid", lambda x: T.nnet.hard_sigmoid(x), [Arg(shape=(3, 4), low=-2.4, high=2.4)],
         lambda x: np.clip(x / 5 + 0.5, 0, 1), rtol=1e-9),
    Case("hard_sigmoid_saturated", lambda x: T.nnet.hard_sigmoid(x), [Arg(shape=(4,), value=[-9.0, -3.0, 3.0, 9.0])],
         lambda x: (x > 0).astype("float64"), grad=False),
    Case("ultra_fast_sigmoid", lambda x: T.nnet.ultra_fast_sigmoid(x), [Arg(shape=(3, 4), low=-3.2, high=3.2)], _ufs),
    Case("ultra_fast_sigmoid_tails", lambda x: T.nnet.ultra_fast_sigmoid(x),
         [Arg(shape=(6,), value=[-10.0, -4.0, -0.5, 0.5, 4.0, 10.0])], _ufs),
    # ---- one-hot
    Case("to_one_hot", lambda y: T.nnet.to_one_hot(y, 4), [Arg("int64", (5,), low=0, high=3)],
         lambda y: np.eye(4)[y]),
    Case("to_one_hot_int8_f32_2d", lambda y: T.to_one_hot(y, 3, dtype="float32"), [Arg("int8", (2, 3), low=0, high=2)],
         lambda y: np.eye(3, dtype="float32")[y]),
    Case("to_one_hot_empty", lambda y: T.nnet.to_one_hot(y, 3), [Arg("int32", (0,))], lambda y: np.zeros((0, 3))),
    Case("to_one_hot_err_range", lambda y: T.nnet.to_one_hot(y, 3), [Arg("int32", (4,), value=[0, 1, 3, 2])], None,
         expect_error=ValueError),
    Case("to_one_hot_err_negative", lambda y: T.nnet.to_one_hot(y, 3), [Arg("int32", (2,), value=[0, -1])], None,
         expect_error=ValueError),
    Case("to_one_hot_err_float", lambda y: T.nnet.to_one_hot(y, 3), [Arg(shape=(2,))], None, expect_error=TypeError),
    # ---- losses
    Case("cce_onehot_matrix", lambda p, t: T.nnet.categorical_crossentropy(p, t), [PROBS, PROBS],
         lambda p, t: -np.einsum("ij,ij->i", t, np.log(p))),
    Case("cce_int_targets", lambda p, y: T.nnet.categorical_crossentropy(p, y),
         [PROBS, Arg("int64", (3,), value=[3, 0, 2])], lambda p, y: -np.log(p[np.arange(3), y])),
    Case("cce_int32_static_classes", lambda p, y: T.nnet.categorical_crossentropy(p, y),
         [Arg(shape=(3, 4), static=(None, 4), low=0.1, high=0.9), Arg("int32", (3,), value=[1, 1, 2])],
         lambda p, y: -np.log(p[np.arange(3), y])),
    Case("cce_softmax_int_targets", lambda x, y: T.nnet.categorical_crossentropy(T.nnet.softmax(x), y),
         [M34, Arg("int64", (3,), value=[2, 1, 0])],
         lambda x, y: -_log_softmax(x)[np.arange(3), y]),
    Case("cce_softmax_large_int_targets", lambda x, y: T.nnet.categorical_crossentropy(T.nnet.softmax(x), y),
         [Arg(shape=(3, 4), value=LARGE), Arg("int64", (3,), value=[0, 1, 3])],
         lambda x, y: -_log_softmax(x)[np.arange(3), y]),
    Case("cce_vector", lambda p: T.nnet.categorical_crossentropy(p, T.argmax(p)),
         [Arg(shape=(4,), low=0.1, high=0.9)], lambda p: -np.log(p.max())),
    Case("cce_f32", lambda p, y: T.nnet.categorical_crossentropy(p, y),
         [Arg("float32", (3, 4), low=0.1, high=0.9), Arg("int64", (3,), value=[3, 0, 2])],
         lambda p, y: -np.log(p[np.arange(3), y])),
    Case("cce_err_range", lambda p, y: T.nnet.categorical_crossentropy(p, y),
         [PROBS, Arg("int64", (3,), value=[3, 4, 2])], None, expect_error=ValueError),
    Case("cce_err_float_targets", lambda p, y: T.nnet.categorical_crossentropy(p, y),
         [PROBS, Arg(shape=(3,))], None, expect_error=TypeError),
    Case("cce_err_ndim", lambda p, y: T.nnet.categorical_crossentropy(p, y),
         [PROBS, Arg(shape=(3, 4, 1))], None, expect_error=TypeError),
    Case("binary_crossentropy", lambda o, t: T.nnet.binary_crossentropy(o, t),
         [PROBS, Arg(shape=(3, 4), low=0, high=1)],
         lambda o, t: -(t * np.log(o) + (1 - t) * np.log1p(-o))),
    Case("binary_crossentropy_f32", lambda o, t: T.nnet.binary_crossentropy(o, t),
         [Arg("float32", (5,), low=0.1, high=0.9), Arg("float32", (5,), low=0, high=1)],
         lambda o, t: -(t * np.log(o) + (1 - t) * np.log1p(-o))),
    Case("sigmoid_binary_crossentropy", lambda x, t: T.nnet.sigmoid_binary_crossentropy(x, t),
         [M34, Arg(shape=(3, 4), low=0, high=1)],
         lambda x, t: -(t * np.log(_sigmoid(x)) + (1 - t) * np.log(1 - _sigmoid(x)))),
    Case("sigmoid_binary_crossentropy_large", lambda x, t: T.nnet.sigmoid_binary_crossentropy(x, t),
         [Arg(shape=(4,), value=[800.0, -800.0, 30.0, -30.0]), Arg(shape=(4,), value=[0.0, 1.0, 0.25, 0.5])],
         lambda x, t: t * np.logaddexp(0, -x) + (1 - t) * np.logaddexp(0, x)),
]
