"""function() semantics (Theano's): updates (pairs, dict, OrderedUpdates; simultaneous; in place),
givens, unused/missing inputs, functions without outputs, thread safety of update functions,
Out(borrow=True), trust_input, copy(), and the training loop against numpy to 1e-12."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad import MissingInputError, Out, UnusedInputError
from ccgrad.scan_module import OrderedUpdates
from ccgrad.sharedvar import shared

MODES = ["py", "c"]


# -- updates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("form", ["list", "tuple", "dict", "ordered", "scan"])
def test_update_forms(mode, form):
    a = shared(np.float64(1.0), name="a")
    b = shared(np.zeros(2), name="b")
    pairs = [(a, a + 1), (b, b + a)]
    upd = {"list": pairs, "tuple": tuple(pairs), "dict": dict(pairs), "ordered": OrderedDict(pairs),
           "scan": OrderedUpdates(pairs)}[form]
    f = ccgrad.function([], [a * 10, b.sum()], updates=upd, mode=mode)
    out_a, out_b = f()
    assert out_a == 10.0 and out_b == 0.0  # outputs see the old values
    assert a.get_value() == 2.0
    np.testing.assert_array_equal(b.get_value(), [1.0, 1.0])  # b's update saw the old a


@pytest.mark.parametrize("mode", MODES)
def test_swap_is_simultaneous(mode):
    a = shared(np.array([1.0, 2.0]), name="a")
    b = shared(np.array([3.0, 4.0]), name="b")
    swap = ccgrad.function([], [], updates=[(a, b), (b, a)], mode=mode)
    assert swap() == []
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])
    swap()
    np.testing.assert_array_equal(a.get_value(), [1.0, 2.0])
    # a rotation of three, with arithmetic
    c = shared(np.array([5.0, 6.0]), name="c")
    rot = ccgrad.function([], [], updates=[(a, b * 1), (b, c + 0), (c, a * 2)], mode=mode)
    rot()
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [5.0, 6.0])
    np.testing.assert_array_equal(c.get_value(), [2.0, 4.0])


@pytest.mark.parametrize("mode", MODES)
def test_update_reading_reversed_self(mode):
    """An update that reads its variable out of order is not computed in place (or is safe)."""
    w = shared(np.arange(5.0), name="w")
    f = ccgrad.function([], [], updates=[(w, w[::-1] + w)], mode=mode)
    f()
    np.testing.assert_array_equal(w.get_value(), np.full(5, 4.0))
    v = shared(np.arange(4.0).reshape(2, 2), name="v")
    g = ccgrad.function([], [], updates=[(v, T.dot(v, v))], mode=mode)
    g()
    np.testing.assert_array_equal(v.get_value(), np.array([[2.0, 3.0], [6.0, 11.0]]))


@pytest.mark.parametrize("mode", MODES)
def test_update_changes_shape(mode):
    w = shared(np.zeros(2), name="w")
    grow = ccgrad.function([], [], updates=[(w, T.concatenate([w, w + 1]))], mode=mode)
    grow()
    grow()
    np.testing.assert_array_equal(w.get_value(), [0, 0, 1, 1, 1, 1, 2, 2])


def test_update_errors():
    w = shared(np.zeros(3), name="w")
    f32 = shared(np.zeros(3, "float32"), name="f32")
    x = T.dvector("x")
    with pytest.raises(TypeError, match="x is not a shared variable"):
        ccgrad.function([x], [], updates=[(x, x + 1)])
    with pytest.raises(TypeError, match=r"shared variable w has type .*its update has"):
        ccgrad.function([], [], updates=[(w, w.sum())])
    with pytest.raises(TypeError, match="f32 is float32 but its update is float64"):
        ccgrad.function([x], [], updates=[(f32, f32 + x)])
    ccgrad.function([x], [], updates=[(f32, (f32 + x).astype("float32"))])  # explicit cast: fine
    i = shared(np.zeros(3, "int32"), name="i")
    f = ccgrad.function([], [], updates=[(w, i + 1)], mode="py")  # safe cast inserted
    f()
    assert w.get_value().dtype == np.float64
    with pytest.raises(ValueError, match="shared variable w is updated twice"):
        ccgrad.function([], [], updates=[(w, w + 1), (w, w + 2)])
    with pytest.raises(TypeError, match="list of"):
        ccgrad.function([], [], updates=[w])
    row = shared(np.zeros((1, 3)), name="row", broadcastable=(True, False))
    m = T.dmatrix("m")
    with pytest.raises(TypeError, match="update must keep the variable's static shape"):
        ccgrad.function([m], [], updates=[(row, row + m)])


@pytest.mark.parametrize("mode", MODES)
def test_pure_update_function(mode):
    n = shared(np.int64(0), name="n")
    inc = ccgrad.function([], updates=[(n, n + 1)], mode=mode)
    for _ in range(5):
        assert inc() == []
    assert n.get_value() == 5


# -- threads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_threads_leave_counter_exact(mode):
    count = shared(np.int64(0), name="count")
    acc = shared(np.zeros(64), name="acc")
    step = ccgrad.function([], [], updates=[(count, count + 1), (acc, acc + 1.0)], mode=mode)
    errors = []

    def work():
        try:
            for _ in range(1000):
                step()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert count.get_value() == 4000
    np.testing.assert_array_equal(acc.get_value(), np.full(64, 4000.0))


def test_threads_share_kept_work_buffers_safely():
    """Temporaries are kept between calls (csrc/ccgrad_rt.h): concurrent calls of sizes that
    grow and shrink must never share a buffer."""
    x = T.dvector("x")
    f = ccgrad.function([x], T.exp(x) * 2 + T.sin(T.exp(x) + 1)[::-1] + T.sum(T.cos(x) * x))
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(60):
                a = rng.normal(size=int(rng.integers(1, 40_000)))
                want = np.exp(a) * 2 + np.sin(np.exp(a) + 1)[::-1] + np.sum(np.cos(a) * a)
                np.testing.assert_allclose(f(a), want, rtol=1e-12, atol=1e-9)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_temporaries_do_not_fault_their_pages_in_every_call():
    """A function with several 8 MB temporaries reuses them: without the kept work buffers glibc
    trims them back to the OS and every call faults ~2,000 pages in again."""
    resource = pytest.importorskip("resource")
    x = T.dvector("x")
    f = ccgrad.function([x], T.exp(x) * 2 + T.sin(T.exp(x) + 1)[::-1])
    a = np.random.default_rng(0).normal(size=10**6)
    f(a)
    f(a)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        f(a)
    per_call = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10
    assert per_call < 500, per_call


# -- givens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_givens(mode):
    x, y = T.dvector("x"), T.dvector("y")
    w = shared(np.array([1.0, 2.0]), name="w")
    z = T.dscalar("z")
    # an input replaced by an expression of another
    f = ccgrad.function([y], (x * w).sum(), givens={x: y * 2}, mode=mode)
    assert f(np.array([1.0, 1.0])) == 6.0
    # a shared variable replaced by an input (pairs form)
    g = ccgrad.function([x], (x * w).sum(), givens=[(w, x)], mode=mode)
    assert g(np.array([3.0, 4.0])) == 25.0
    # an input replaced by a shared variable, and a scalar input by a constant
    v = shared(np.array([0.5, 0.5]), name="v")
    h = ccgrad.function([z], (x * w).sum() * z, givens={x: v, z: 2.0}, on_unused_input="ignore", mode=mode)
    assert h(123.0) == 3.0
    # givens apply to updates too
    acc = shared(np.zeros(2), name="acc")
    k = ccgrad.function([y], [], updates=[(acc, acc + x)], givens={x: y + 1}, mode=mode)
    k(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(acc.get_value(), [2.0, 3.0])


def test_givens_errors():
    x, y = T.dvector("x"), T.fvector("y")
    with pytest.raises(TypeError, match="same dtype and ndim"):
        ccgrad.function([y], x.sum(), givens={x: y})
    with pytest.raises(TypeError, match="same dtype and ndim"):
        ccgrad.function([], x.sum(), givens={x: T.dmatrix()})
    with pytest.raises(TypeError, match="not constants"):
        ccgrad.function([x], x.sum(), givens={T.constant(1.0): x})


# -- inputs ----------------------------------------------------------------------------------


def test_unused_and_missing_inputs():
    x, y, z = T.dscalar("x"), T.dscalar("y"), T.dscalar("z")
    with pytest.raises(UnusedInputError, match=r"input.* y are not used"):
        ccgrad.function([x, y], x * 2)
    with pytest.warns(UserWarning, match="y are not used"):
        f = ccgrad.function([x, y], x * 2, on_unused_input="warn", mode="py")
    assert f(1.0, 5.0) == 2.0
    g = ccgrad.function([x, y], x * 2, on_unused_input="ignore", mode="c")
    assert g(3.0, 0.0) == 6.0
    with pytest.raises(MissingInputError, match=r"needs input z .*not in the inputs list \[x\]"):
        ccgrad.function([x], x * z)
    with pytest.raises(ValueError, match="on_unused_input"):
        ccgrad.function([x], x, on_unused_input="loud")
    assert issubclass(UnusedInputError, ValueError) and issubclass(MissingInputError, ValueError)


# -- Out(borrow=True) ------------------------------------------------------------------------


def test_out_borrow_reuses_buffer_in_c():
    x = T.dvector("x")
    f = ccgrad.function([x], Out(x * 2, borrow=True), mode="c")
    r1 = f(np.array([1.0, 2.0]))
    r2 = f(np.array([5.0, 6.0]))
    # documented: the returned array is overwritten by the next call
    assert r1 is r2
    np.testing.assert_array_equal(r1, [10.0, 12.0])
    r3 = f(np.array([1.0, 2.0, 3.0]))  # a new shape gets a new buffer
    np.testing.assert_array_equal(r3, [2.0, 4.0, 6.0])
    g = ccgrad.function([x], [Out(x + 1, borrow=False), x * 3], mode="c")
    a1, b1 = g(np.ones(2))
    a2, b2 = g(np.ones(2))
    assert a1 is not a2 and b1 is not b2


@pytest.mark.parametrize("mode", MODES)
def test_out_borrow_values(mode):
    x = T.dvector("x")
    f = ccgrad.function([x], [Out(x * 2, borrow=True), x.sum()], mode=mode)
    for k in range(3):
        r, s = f(np.arange(3.0) + k)
        np.testing.assert_array_equal(r, (np.arange(3.0) + k) * 2)
        assert s == 3 + 3 * k


# -- trust_input -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_trust_input(mode):
    x = T.dvector("x")
    f = ccgrad.function([x], x * 2, mode=mode)  # CFunction in mode c
    w = shared(np.ones(2), name="w")
    g = ccgrad.function([x], x * w, updates=[(w, w + 1)], mode=mode)  # Function
    for fn in (f, g):
        assert fn.trust_input is False
        with pytest.raises(TypeError):
            fn(np.zeros((2, 2)))
        fn.trust_input = True
        assert fn.trust_input is True
        np.testing.assert_array_equal(fn(np.array([1.0, 2.0])), [2.0, 4.0] if fn is f else fn_expect(w))
    if mode == "c":
        with pytest.raises(TypeError):  # the Python wrapper's kernel still checks dtype/ndim
            g(np.zeros(2, "float32"))


def fn_expect(w):
    return np.array([1.0, 2.0]) * (w.get_value() - 1)


# -- copy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_copy(mode):
    x = T.dscalar("x")
    acc = shared(np.float64(0.0), name="acc")
    f = ccgrad.function([x], acc * 1, updates=[(acc, acc + x)], mode=mode, name="f")
    g = f.copy()
    assert g.name == "f copy"
    f(1.0)
    g(2.0)
    assert acc.get_value() == 3.0  # shared variables stay shared
    other = shared(np.float64(100.0), name="other")
    h = f.copy(swap={acc: other}, name="h")
    h(1.0)
    assert other.get_value() == 101.0 and acc.get_value() == 3.0
    k = f.copy(delete_updates=True)
    assert k(5.0) == 3.0 and acc.get_value() == 3.0
    p = ccgrad.function([x], x * 3, mode=mode).copy()
    assert p(2.0) == 6.0


# -- the training loop against numpy -----------------------------------------------------------


def _numpy_steps(X, Y, w, b, lr, steps):
    n = X.shape[0]
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(X @ w) - b))
        gz = (p - Y) / n
        w, b = w - lr * (X.T @ gz + 0.02 * w), b - lr * gz.sum()
    return w, b


@pytest.mark.parametrize("mode", MODES)
def test_training_loop_matches_numpy(mode):
    rng = np.random.default_rng(7)
    N, F = 60, 30
    X = rng.standard_normal((N, F))
    Y = rng.integers(0, 2, N).astype("float64")
    w0 = 0.1 * rng.standard_normal(F)
    x, y = T.dmatrix("x"), T.dvector("y")
    w = shared(w0, name="w")
    b = shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w**2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = ccgrad.function([x, y], [p_1 > 0.5, xent], updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)],
                            mode=mode)
    for _ in range(100):
        train(X, Y)
    w_np, b_np = _numpy_steps(X, Y, w0, 0.0, 0.1, 100)
    np.testing.assert_allclose(w.get_value(), w_np, rtol=0, atol=1e-12)
    assert abs(b.get_value() - b_np) <= 1e-12
