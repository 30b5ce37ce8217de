"""Run-time checks of the shape, indexing and array-construction ops in C: every index, slice,
target shape and length the generated code relies on is checked, so bad values give a clear
IndexError / ValueError (never a crash or a wrong read).  Slicing and integer indexing are also
fuzzed with extreme int64 values against numpy."""

from __future__ import annotations

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from tests.cases import arrays_cases, shape_cases, subtensor_cases
from tests.optable import build

I64 = np.iinfo(np.int64)
EXTREMES = [I64.min, I64.min + 1, -(2**62), -7, -6, -5, -1, 0, 1, 5, 6, 7, 2**62, I64.max - 1, I64.max]


def cfun(inputs, outputs, **kw):
    return ccgrad.function(inputs, outputs, mode="c", on_unused_input="ignore", **kw)


# ---------------------------------------------------------------------------------------------
# The op-table error cases that fail at run time fail the same way in C


def _runtime_error_cases():
    out = []
    for case in shape_cases.CASES + subtensor_cases.CASES + arrays_cases.CASES:
        if case.expect_error is None:
            continue
        try:
            build(case)
        except Exception:  # a build-time error: no C involved
            continue
        out.append(case)
    return out


RUNTIME_ERRORS = _runtime_error_cases()


@pytest.mark.parametrize("case", RUNTIME_ERRORS, ids=[c.id for c in RUNTIME_ERRORS])
@pytest.mark.parametrize("optimize", [False, True])
def test_op_table_runtime_errors_in_c(case, optimize):
    rng = np.random.default_rng(0)
    vals = [a.make(rng) for a in case.args]
    inputs, outs = build(case)
    f = cfun(inputs, outs, optimize=optimize)
    with pytest.raises(case.expect_error):
        f(*vals)


# ---------------------------------------------------------------------------------------------
# Integer and array indices


def test_int_index_out_of_bounds_names_axis_index_and_length():
    x, i = T.dmatrix("x"), T.lscalar("i")
    f = cfun([x, i], [x[1, i]])
    a = np.arange(12.0).reshape(3, 4)
    assert f(a, -4)[0] == a[1, 0]
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 1 with length 4"):
        f(a, 4)
    with pytest.raises(IndexError, match="index -5 is out of bounds for axis 1"):
        f(a, -5)
    with pytest.raises(IndexError):
        f(np.zeros((3, 0)), 0)


@pytest.mark.parametrize("optimize", [False, True])
def test_int_index_fuzz_extremes(optimize):
    x, i = T.dvector("x"), T.lscalar("i")
    f = cfun([x, i], [x[i]], optimize=optimize)
    v = np.arange(6.0)
    for k in EXTREMES:
        if -6 <= k < 6:
            assert f(v, k)[0] == v[k]
        else:
            with pytest.raises(IndexError, match="out of bounds"):
                f(v, k)


def test_array_index_out_of_bounds():
    x, i = T.dmatrix("x"), T.lvector("i")
    a = np.arange(12.0).reshape(3, 4)
    gather = cfun([x, i], [x[i], x[:, i], x[i, i]])
    got = gather(a, np.array([2, -3, 0]))
    np.testing.assert_array_equal(got[0], a[[2, -3, 0]])
    np.testing.assert_array_equal(got[1], a[:, [2, -3, 0]])
    np.testing.assert_array_equal(got[2], a[[2, -3, 0], [2, -3, 0]])
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with length 3"):
        gather(a, np.array([0, 3]))
    with pytest.raises(IndexError, match="index -4 is out of bounds"):
        gather(a, np.array([-4]))
    with pytest.raises(IndexError):
        gather(a, np.array([I64.min]))
    y = T.dvector("y")
    scatter = cfun([x, i, y], [T.inc_subtensor(x[i], y[:, None] * T.ones((1, 4))),
                               T.set_subtensor(x[i, 1], y)])
    with pytest.raises(IndexError, match="out of bounds"):
        scatter(a, np.array([1, I64.max]), np.ones(2))
    out = scatter(a, np.array([1, 1, -1]), np.array([1.0, 2.0, 3.0]))
    want = a.copy()
    np.add.at(want, [1, 1, -1], np.array([1.0, 2.0, 3.0])[:, None])
    np.testing.assert_array_equal(out[0], want)


def test_array_index_broadcast_mismatch_and_narrow_dtypes():
    x, i, j = T.dmatrix("x"), T.bvector("i"), T.wmatrix("j")
    f = cfun([x, i, j], [x[i, j]])
    a = np.arange(12.0).reshape(3, 4)
    ii, jj = np.array([0, -1], "int8"), np.array([[1], [3]], "int16")
    np.testing.assert_array_equal(f(a, ii, jj)[0], a[ii, jj])
    with pytest.raises(IndexError, match="broadcast"):
        f(a, np.array([0, 1, 2], "int8"), np.array([[0, 1]], "int16"))
    # a run-time length 1 broadcasts (numpy's rule for index arrays)
    np.testing.assert_array_equal(f(a, np.array([2], "int8"), jj)[0], a[[2], jj])


# ---------------------------------------------------------------------------------------------
# Slices: Python's clamping for any int64 bounds and steps


@pytest.mark.parametrize("optimize", [False, True])
def test_slice_fuzz_extremes(optimize):
    x, a, b, s = T.dvector("x"), T.lscalar("a"), T.lscalar("b"), T.lscalar("s")
    f = cfun([x, a, b, s], [x[a:b:s], T.inc_subtensor(x[a:b:s], 1.0)], optimize=optimize)
    v = np.arange(6.0)
    rng = np.random.default_rng(7)
    steps = [k for k in EXTREMES if k != 0] + [2, -2, 3, -3]
    for _ in range(400):
        lo, hi = (int(rng.choice(EXTREMES)) for _ in range(2))
        st = int(rng.choice(steps))
        got, inc = f(v, lo, hi, st)
        np.testing.assert_array_equal(got, v[lo:hi:st])
        want = v.copy()
        want[lo:hi:st] += 1.0
        np.testing.assert_array_equal(inc, want)
    with pytest.raises(ValueError, match="step cannot be zero"):
        f(v, 0, 3, 0)


def test_views_of_views_and_empty_inputs():
    x, i = T.dtensor3("x"), T.lscalar("i")
    outs = [x[1:, ::-1][::2, i:, ::-2][:, ::-1], x[:, i].T[::-1], T.set_subtensor(x[::-1][i, 1:], 5.0)]
    f = cfun([x, i], outs)
    a = np.arange(60.0).reshape(3, 4, 5)
    got = f(a[:, ::-1, ::2].copy(order="F"), 1)
    b = a[:, ::-1, ::2]
    np.testing.assert_array_equal(got[0], b[1:, ::-1][::2, 1:, ::-2][:, ::-1])
    np.testing.assert_array_equal(got[1], b[:, 1].T[::-1])
    want = b[::-1].copy()  # set_subtensor writes into the indexed tensor, here x[::-1]
    want[1, 1:] = 5.0
    np.testing.assert_array_equal(got[2], want)
    with pytest.raises(IndexError, match="index 0 is out of bounds for axis 0 with length 0"):
        f(np.zeros((0, 4, 3)), 0)
    g = cfun([x, i], outs[:2])
    empty = g(np.zeros((0, 4, 3)), 0)
    assert empty[0].shape == (0, 4, 2) and empty[1].shape == (3, 0)


# ---------------------------------------------------------------------------------------------
# Reshape, join, arange, eye, alloc


def test_reshape_size_and_entry_errors():
    x, n, m = T.dmatrix("x"), T.lscalar("n"), T.lscalar("m")
    f = cfun([x, n, m], [T.reshape(x, (n, m))])
    g = cfun([x, n], [T.reshape(x.T, (n, -1)), T.reshape(x.T, (n, -1)) * 2.0])
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(f(a, 2, 6)[0], a.reshape(2, 6))
    np.testing.assert_array_equal(f(a, -1, 6)[0], a.reshape(-1, 6))
    for t in (a, a[::-1], a[:, ::2]):  # x.T is never C-contiguous here: the reshape copies
        got = g(t, 2)
        np.testing.assert_array_equal(got[0], t.T.reshape(2, -1))
        np.testing.assert_array_equal(got[1], 2.0 * t.T.reshape(2, -1))
    with pytest.raises(ValueError, match="cannot reshape"):
        g(a, -1)
    with pytest.raises(ValueError, match=r"cannot reshape an array of size 12 into shape \(5, 2\)"):
        f(a, 5, 2)
    with pytest.raises(ValueError, match="cannot reshape"):
        f(a, -1, -1)  # two inferred entries
    with pytest.raises(ValueError, match="cannot reshape"):
        f(a, -2, -6)
    with pytest.raises(ValueError, match="cannot reshape"):
        f(a, 2**32, 2**32)  # the product overflows int64
    with pytest.raises(ValueError, match="cannot reshape"):
        f(np.zeros((0, 4)), 0, -1)  # -1 with a zero-size remainder is ambiguous (numpy refuses)
    np.testing.assert_array_equal(g(a, 12)[0], a.T.reshape(12, 1))


def test_join_shape_mismatch():
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = cfun([a, b], [T.concatenate([a, b], axis=1), T.concatenate([a.T, b.T])])
    with pytest.raises(ValueError, match="join: input 1 has length 2 on axis 0, input 0 has 3"):
        f(np.zeros((3, 2)), np.zeros((2, 2)))
    got = f(np.ones((3, 2)), np.zeros((3, 0)))
    assert got[0].shape == (3, 2) and got[1].shape == (2, 3)


def test_arange_errors_and_values():
    s, f0, t = T.lscalar("s"), T.dscalar("f0"), T.lscalar("t")
    f = cfun([s, f0, t], [T.arange(0, t, s), T.arange(f0, 2.0, 0.25), T.arange(f0, 3.0, T.cast(s, "float64"))])
    np.testing.assert_array_equal(f(3, 0.1, 10)[0], np.arange(0, 10, 3))
    np.testing.assert_array_equal(f(-3, 0.1, -10)[0], np.arange(0, -10, -3))
    np.testing.assert_array_equal(f(1, 0.1, 10)[1], np.arange(0.1, 2.0, 0.25))
    with pytest.raises(ValueError, match="step cannot be zero"):
        f(0, 0.0, 5)
    with pytest.raises(ValueError, match="length"):
        f(1, np.nan, 5)
    with pytest.raises(ValueError, match="overflows"):
        cfun([s, t], [T.arange(t, I64.max, s)])(1, I64.min)
    with pytest.raises((MemoryError, ValueError)):
        f(1, 0.0, 2**62)
    g = cfun([s, t], [T.arange(t, 10, s, dtype="int8"), T.arange(t, 10, s, dtype="float32")])
    np.testing.assert_array_equal(g(I64.max, -3)[0], np.array([-3], "int8"))
    np.testing.assert_allclose(g(2, -3)[1], np.arange(-3, 10, 2, dtype="float32"))


def test_eye_alloc_negative_and_extreme_offsets():
    n, m, k = T.lscalar("n"), T.lscalar("m"), T.lscalar("k")
    f = cfun([n, m, k], [T.eye(n, m, k), T.alloc(1.5, n, m)])
    for kk in [I64.min, -4, -1, 0, 2, 5, I64.max]:
        np.testing.assert_array_equal(f(3, 5, kk)[0], np.eye(3, 5, max(min(kk, 99), -99)))
    with pytest.raises(ValueError, match="negative"):
        f(-1, 3, 0)
    with pytest.raises(ValueError, match="negative"):
        f(2, -3, 0)
    with pytest.raises((MemoryError, ValueError)):
        f(2**40, 2**40, 0)


def test_alloc_and_inc_fill_rules():
    v, x, y = T.dvector("v"), T.dmatrix("x"), T.dvector("y")
    n = T.lscalar("n")
    f = cfun([v, n, x, y], [T.alloc(v, n, 3), T.set_subtensor(x[:, 1:], y)])
    with pytest.raises(ValueError, match="alloc"):
        f(np.ones(2), 2, np.zeros((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="y has length 3"):
        f(np.ones(3), 2, np.zeros((2, 3)), np.ones(3))
    got = f(np.arange(3.0), 2, np.zeros((2, 3)), np.ones(2))
    np.testing.assert_array_equal(got[0], np.tile(np.arange(3.0), (2, 1)))
    np.testing.assert_array_equal(got[1], [[0, 1, 1], [0, 1, 1]])


def test_diag_views_and_inplace_chain():
    x = T.dmatrix("x")
    # inc_subtensor on a dying temporary may reuse its buffer; the input itself is never written
    tmp = x * 2.0
    outs = [T.diagonal(x[::-1], 1), T.inc_subtensor(tmp[1:, ::2], 1.0), T.diag(T.diagonal(x, -1))]
    f = cfun([x], outs)
    a = np.arange(12.0).reshape(3, 4)
    keep = a.copy()
    got = f(a)
    np.testing.assert_array_equal(got[0], np.diagonal(a[::-1], 1))
    want = a * 2.0
    want[1:, ::2] += 1.0
    np.testing.assert_array_equal(got[1], want)
    np.testing.assert_array_equal(got[2], np.diag(np.diagonal(a, -1)))
    np.testing.assert_array_equal(a, keep)


def test_inplace_write_into_an_offset_view():
    """x of an inc_subtensor may be a contiguous view at an offset into a dying buffer: the
    output takes the buffer over and the view is first copied down to its start."""
    x, i = T.dmatrix("x"), T.lscalar("i")
    t = (x * 2.0)[1:]
    outs = [T.inc_subtensor(t[i], 1.0) * 3.0, T.set_subtensor((x + 1.0)[2:, 1:][::-1][i], -1.0) + 0.0]
    for optimize in (False, True):
        f = cfun([x, i], outs, optimize=optimize)
        a = np.arange(20.0).reshape(5, 4)
        got = f(a, -1)
        want0 = a[1:] * 2.0
        want0[-1] += 1.0
        want1 = (a + 1.0)[2:, 1:][::-1].copy()
        want1[-1] = -1.0
        np.testing.assert_array_equal(got[0], want0 * 3.0)
        np.testing.assert_array_equal(got[1], want1)


def test_inc_and_set_of_a_unit_step_slice_into_a_new_buffer():
    """x[a:b] += y / = y for a 1-D x that is not overwritten (an input): x is copied around the
    region and combined inside it in one pass.  Every start/stop (negative, past the end, empty),
    y of the region's length or broadcast from length 1, and a strided x."""
    x = T.dvector("x")
    y = T.dvector("y")
    y1 = T.TensorType("float64", shape=(1,))("y1")
    a, b = T.lscalar("a"), T.lscalar("b")
    outs = [T.inc_subtensor(x[a:b], y), T.set_subtensor(x[a:b], y),
            T.inc_subtensor(x[a:], y1), T.set_subtensor(x[:b], y1), T.inc_subtensor(x[1:], 2.0)]
    f = ccgrad.function([x, y, y1, a, b], outs, on_unused_input="ignore")
    rng = np.random.default_rng(2)
    for n in range(0, 12):
        for lo in (-n - 2, -3, -1, 0, 1, 2, n, n + 3):
            for hi in (-n - 1, -2, 0, 1, 3, n - 1, n, n + 4):
                base = rng.normal(size=2 * n)
                xv = base[::2]  # strided
                reg = len(range(*slice(lo, hi).indices(n)))
                yv, y1v = rng.normal(size=reg), rng.normal(size=1)
                want = [xv.copy() for _ in range(5)]
                want[0][lo:hi] += yv
                want[1][lo:hi] = yv
                want[2][lo:] += y1v
                want[3][:hi] = y1v
                want[4][1:] += 2.0
                for got, w in zip(f(xv, yv, y1v, lo, hi), want):
                    np.testing.assert_array_equal(got, w)
