"""Op table cases for ccgrad/ops/scan.py: Scan through the scan() builder — recurrences (one and
two taps), maps, sequence taps, go_backwards, n_steps without sequences, until, nested loops,
T.grad inside the step (the seed's Jacobian), float32, empty loops, layouts and error cases.
The references are plain Python loops over numpy values."""

import numpy as np

import ccgrad.tensor as T
from ccgrad.scan_module import scan, until
from tests.optable import Arg, Case


def _cumsum(x, h0=0.0):
    return h0 + np.cumsum(x)


def _rnn(W, X, h0):
    h, out = h0, []
    for x in X:
        h = np.tanh(W @ h + x)
        out.append(h)
    return np.array(out)


def _fib(x0, n=5):
    xs = list(x0)
    for _ in range(n):
        xs.append(0.5 * xs[-1] + np.sin(xs[-2]))
    return np.array(xs[2:])


def _until(p0):
    out, p = [], p0
    for _ in range(50):
        p = p * 1.5
        out.append(p)
        if p > 5:
            break
    return np.array(out)


def _nested(M):
    return np.array([(row ** 2).sum() for row in M])


def _one(fn, **kw):
    """The single output of scan(fn, **kw)."""
    out, _ = scan(fn, **kw)
    return out


V4, V5 = Arg(shape=(4,)), Arg(shape=(5,))
S = Arg(shape=())

CASES: list[Case] = [
    Case("scan_cumsum", lambda x: _one(lambda x_t, acc: acc + x_t, sequences=x, outputs_info=T.constant(0.0)),
         [V5], _cumsum),
    Case("scan_cumsum_init", lambda x, h0: _one(lambda x_t, acc: acc + x_t, sequences=x, outputs_info=h0),
         [V4, S], _cumsum),
    Case("scan_power", lambda a: _one(lambda p, a: p * a, outputs_info=T.ones_like(a), non_sequences=a, n_steps=3),
         [Arg(shape=(3,), low=0.5, high=1.5)], lambda a: np.stack([a, a * a, a * a * a])),
    Case("scan_two_taps", lambda x0: _one(lambda a, b: 0.5 * b + T.sin(a), outputs_info=dict(initial=x0, taps=[-2, -1]),
                                         n_steps=5),
         [Arg(shape=(2,))], _fib),
    Case("scan_rnn", lambda W, X, h0: _one(lambda x, h, W: T.tanh(T.dot(W, h) + x), sequences=X, outputs_info=h0,
                                           non_sequences=W),
         [Arg(shape=(3, 3), low=-0.5, high=0.5), Arg(shape=(4, 3), low=-1, high=1), Arg(shape=(3,), low=-1, high=1)],
         _rnn),
    Case("scan_seq_taps", lambda x: _one(lambda a, b, c: a * b + c, sequences=dict(input=x, taps=[-1, 0, 2])),
         [Arg(shape=(6,))], lambda x: x[0:3] * x[1:4] + x[3:6]),
    Case("scan_backwards_mixed", lambda X: _one(lambda r, acc: acc * 0.5 + 2 * r, sequences=X,
                                                outputs_info=T.zeros_like(X[0]), go_backwards=True),
         [Arg(shape=(3, 2))],
         lambda X: np.array([sum(0.5 ** (k - j) * 2 * X[::-1][j] for j in range(k + 1)) for k in range(3)])),
    Case("scan_several_outputs", lambda x, h0: scan(lambda x_t, s, p: (s + x_t, x_t * s, p * x_t), sequences=x,
                                                    outputs_info=[h0, None, T.ones_like(h0)])[0],
         [V4, S], lambda x, h0: [h0 + np.cumsum(x), x * np.concatenate([[h0], h0 + np.cumsum(x)[:-1]]),
                                 np.cumprod(x)]),
    Case("scan_map_f32", lambda x: _one(lambda x_t: x_t * 2 + 1, sequences=x), [Arg("float32", (4, 2))],
         lambda x: x * 2 + 1),
    Case("scan_int_index", lambda y: _one(lambda i, y: y[i] * y[i], sequences=T.arange(y.shape[0]), non_sequences=y),
         [V4], lambda y: y * y),
    Case("scan_seed_jacobian", lambda x: _one(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(x.shape[0]),
                                              non_sequences=[x ** 3, x]),
         [Arg(shape=(3,), low=0.5, high=1.5)], lambda x: np.diag(3 * x * x)),
    Case("scan_until", lambda p0: _one(lambda p: (p * 1.5, until(p * 1.5 > 5)), outputs_info=p0, n_steps=50),
         [Arg(shape=(), low=1.0, high=1.4)], _until),
    Case("scan_nested", lambda M: _one(
        lambda row: _one(lambda x, acc: acc + x * x, sequences=row, outputs_info=T.constant(0.0))[-1], sequences=M),
         [Arg(shape=(3, 2))], _nested),
    Case("scan_int_counter", lambda x: scan(lambda x_t, c, a: (c + 1, a + x_t * T.cast(c, "float64")), sequences=x,
                                            outputs_info=[T.constant(np.int64(0)), T.constant(0.0)])[0],
         [V4], lambda x: [np.arange(1, 5), np.cumsum(x * np.arange(4))]),
    Case("scan_empty", lambda x: _one(lambda x_t, acc: acc + x_t, sequences=x, outputs_info=T.constant(0.0)),
         [Arg(shape=(0,))], lambda x: np.zeros(0)),
    Case("scan_layout_f", lambda X: _one(lambda r: T.sum(r * r), sequences=X), [Arg(shape=(3, 4), layout="f")],
         lambda X: (X * X).sum(axis=1), grad=False),
    Case("scan_layout_reversed", lambda X: _one(lambda r, acc: acc + r, sequences=X, outputs_info=T.zeros_like(X[0])),
         [Arg(shape=(3, 2), layout="reversed")], lambda X: np.cumsum(X, axis=0)),
    # errors: a sequence shorter than n_steps (run time); a recurrent output changing dtype (build)
    Case("scan_short_sequence_err", lambda x: _one(lambda x_t: x_t * 2, sequences=x, n_steps=5), [Arg(shape=(3,))],
         None, expect_error=ValueError),
    Case("scan_dtype_change_err", lambda x: _one(lambda x_t, acc: acc + x_t, sequences=x,
                                                 outputs_info=T.constant(np.float32(0))),
         [V4], None, expect_error=TypeError),
]
