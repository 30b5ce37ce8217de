"""shared(): Theano's type rules, get_value/set_value (borrow, strict, allow_downcast, clear
errors), shared variables in expressions, grad and givens, default updates, and aliasing under
in-place C updates."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad.graph import SharedVariable
from ccgrad.options import config
from ccgrad.sharedvar import TensorSharedVariable, shared

MODES = ["py", "c"]


# -- the type rule -------------------------------------------------------------------------------


@pytest.mark.parametrize("value, dtype, ndim", [
    (0.5, "float64", 0), (3, "int64", 0), (True, "bool", 0),
    (np.float32(1.5), "float32", 0), (np.int8(3), "int8", 0),
    (np.zeros((2, 3), "float32"), "float32", 2), (np.arange(4, dtype="int32"), "int32", 1),
    ([1, 2, 3], "int64", 1), ([[1.0, 2.0]], "float64", 2),
])
def test_type_from_value(value, dtype, ndim):
    v = shared(value, name="v")
    assert isinstance(v, SharedVariable) and isinstance(v, TensorSharedVariable)
    assert v.dtype == dtype and v.ndim == ndim
    assert v.broadcastable == (False,) * ndim  # never broadcastable by default (Theano)
    assert v.name == "v"


def test_python_float_is_float64_under_floatX32():
    old = config.floatX
    config.floatX = "float32"
    try:
        assert shared(0.5).dtype == "float64"  # Theano's scalar constructor ignores floatX
    finally:
        config.floatX = old


def test_broadcastable():
    v = shared(np.zeros((1, 3)), broadcastable=(True, False))
    assert v.broadcastable == (True, False)
    with pytest.raises(ValueError, match="axis 1 is marked broadcastable"):
        shared(np.zeros((1, 3)), name="w", broadcastable=(True, True))
    with pytest.raises(ValueError, match="1 entries for a 2-d value"):
        shared(np.zeros((1, 3)), broadcastable=(True,))
    # the broadcastable axis broadcasts against a matrix
    m = T.dmatrix("m")
    f = ccgrad.function([m], m + v, mode="py")
    assert f(np.ones((4, 3))).shape == (4, 3)


def test_unsupported_values():
    with pytest.raises(TypeError, match="complex128 are not supported"):
        shared(np.zeros(2, complex), name="z")
    with pytest.raises(TypeError, match="symbolic Variable"):
        shared(T.dvector("x"))
    with pytest.raises(TypeError, match="does not fit in int64"):
        shared(2**70)


# -- borrow, get_value / set_value ---------------------------------------------------------------


def test_borrow_on_construction():
    a = np.arange(3.0)
    v = shared(a)
    a[0] = 99
    assert v.get_value()[0] == 0  # copied
    w = shared(a, borrow=True)
    a[1] = 77
    assert w.get_value(borrow=True) is a and w.get_value()[1] == 77


def test_get_value_copies_unless_borrowed():
    v = shared(np.arange(3.0))
    got = v.get_value()
    got[0] = 5
    assert v.get_value()[0] == 0
    assert v.get_value(borrow=True) is v.get_value(borrow=True)


def test_set_value_rules():
    v = shared(np.zeros(3), name="w")
    v.set_value(np.arange(3, dtype="int32"))  # safe cast
    assert v.get_value().dtype == np.float64
    v.set_value([1, 2, 3, 4])  # the shape may change; the type may not
    assert v.get_value().tolist() == [1, 2, 3, 4]
    with pytest.raises(TypeError, match=r"shared variable 'w' is 1-d .*got a 2-d value of shape \(2, 2\)"):
        v.set_value(np.zeros((2, 2)))
    f = shared(np.zeros(3, "float32"), name="f32")
    with pytest.raises(TypeError, match="shared variable 'f32' holds float32 values; set_value got float64 data"):
        f.set_value(np.zeros(3))
    f.set_value(0.5 * np.ones(3, "float32"))
    i = shared(np.zeros(2, "int32"), name="i")
    with pytest.raises(TypeError, match="'i' holds int32 values"):
        i.set_value(np.array([1.5, 2.0]))
    with pytest.raises(TypeError, match=r"cannot convert|holds int32"):
        i.set_value("abc")
    with pytest.raises(TypeError, match="symbolic Variable"):
        v.set_value(T.dvector())


def test_allow_downcast_and_strict():
    f = shared(np.zeros(3, "float32"), name="f", allow_downcast=True)
    f.set_value(np.array([1.0, 2.0, 3.0]))
    assert f.get_value().dtype == np.float32
    s = shared(np.zeros(3), name="s", strict=True)
    with pytest.raises(TypeError, match="'s' is strict"):
        s.set_value([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="'s' is strict"):
        s.set_value(np.zeros(3, "float32"))
    s.set_value(np.ones(3))
    nd = shared(np.zeros(2, "float32"), name="nd", allow_downcast=False)
    with pytest.raises(TypeError, match="cast the value first"):
        nd.set_value(1.5 * np.ones(2))


def test_set_value_borrow_and_layout():
    v = shared(np.zeros((2, 3)))
    a = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    v.set_value(a)
    got = v.get_value(borrow=True)
    assert got is not a and got.flags.c_contiguous
    np.testing.assert_array_equal(got, a)
    v.set_value(a, borrow=True)
    assert v.get_value(borrow=True) is a
    big = np.arange(3.0).astype(">f8")  # non-native byte order is converted
    w = shared(big)
    assert w.get_value(borrow=True).dtype.isnative


def test_broadcastable_static_shape_on_set_value():
    v = shared(np.zeros((1, 3)), name="row", broadcastable=(True, False))
    with pytest.raises(ValueError, match="static length 1 on axis 0"):
        v.set_value(np.zeros((2, 3)))


# -- shared variables in graphs -----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_shared_in_expressions_and_grad(mode):
    w = shared(np.array([1.0, 2.0, 3.0]), name="w")
    x = T.dvector("x")
    cost = ((w * x) ** 2).sum()
    g = T.grad(cost, w)
    f = ccgrad.function([x], [cost, g], mode=mode)
    c, gv = f(np.array([1.0, 1.0, 2.0]))
    assert c == pytest.approx(1 + 4 + 36)
    np.testing.assert_allclose(gv, 2 * np.array([1.0, 2.0, 6.0]) * np.array([1.0, 1.0, 2.0]))
    w.set_value([0.0, 0.0, 1.0])  # functions read the current value
    assert f(np.array([1.0, 1.0, 2.0]))[0] == pytest.approx(4.0)


@pytest.mark.parametrize("mode", MODES)
def test_inplace_update_seen_through_borrowed_alias(mode):
    """Documented aliasing: a borrowed value is the variable's own array; C updates it in place."""
    w = shared(np.zeros(3), name="w")
    step = ccgrad.function([], [], updates=[(w, w + 1)], mode=mode)
    alias = w.get_value(borrow=True)
    step()
    np.testing.assert_array_equal(w.get_value(), np.ones(3))
    if mode == "c":
        assert w.get_value(borrow=True) is alias and alias[0] == 1.0
    else:
        assert alias[0] == 0.0


# The dispatcher's overlap check (csrc/ccgrad_dispatch.c, offer_ok) exempts every input that is the
# very array offered, not only the donated input: an array passed twice is updated in place while
# still read through its other role.  Reported to the lead; flip to passing once fixed.


@pytest.mark.parametrize("mode", ["py", "c"])
def test_update_not_in_place_when_old_value_still_read(mode):
    """A borrowed alias of another variable must not be overwritten (overlap check)."""
    a = shared(np.arange(3.0), name="a")
    b = shared(np.zeros(3), name="b")
    b.set_value(a.get_value(borrow=True), borrow=True)  # a and b alias one array
    step = ccgrad.function([], [], updates=[(a, a * 2 + b)], mode=mode)
    step()
    np.testing.assert_array_equal(a.get_value(), np.arange(3.0) * 3)
    np.testing.assert_array_equal(b.get_value(), np.arange(3.0))


@pytest.mark.parametrize("mode", ["py", "c"])
def test_update_reads_its_own_array_passed_as_argument(mode):
    w = shared(np.arange(3.0), name="w")
    x = T.dvector("x")
    f = ccgrad.function([x], [], updates=[(w, w + x[::-1])], mode=mode)
    f(w.get_value(borrow=True))  # x is w's own array: the update must not clobber what it reads
    np.testing.assert_array_equal(w.get_value(), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("mode", MODES)
def test_default_update(mode):
    n = shared(np.array(0, dtype="int64"), name="n")
    n.default_update = n + 1
    x = T.dscalar("x")
    f = ccgrad.function([x], x * n, mode=mode)
    assert f(2.0) == 0.0 and f(2.0) == 2.0 and n.get_value() == 2
    g = ccgrad.function([x], x * n, mode=mode, no_default_updates=True)
    g(1.0)
    assert n.get_value() == 2
    h = ccgrad.function([x], x * n, mode=mode, no_default_updates=[n])
    h(1.0)
    assert n.get_value() == 2
    # an explicit update wins over the default one
    k = ccgrad.function([x], x * n, mode=mode, updates=[(n, n + 10)])
    k(1.0)
    assert n.get_value() == 12


def test_default_update_chain_and_givens():
    a = shared(np.float64(1.0), name="a")
    b = shared(np.float64(5.0), name="b")
    a.default_update = a + b  # reading b through a's default update brings b's in too
    b.default_update = b * 2
    x = T.dscalar("x")
    f = ccgrad.function([x], x + a, mode="py")
    f(0.0)
    assert a.get_value() == 6.0 and b.get_value() == 10.0
    c = shared(np.float64(0.0), name="c")
    c.default_update = c + 1
    g = ccgrad.function([x], x + c, givens={c: x}, mode="py")  # c replaced: no default update
    assert g(3.0) == 6.0 and c.get_value() == 0.0
