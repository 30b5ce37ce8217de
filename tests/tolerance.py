"""The one tolerance policy (DESIGN §8) used by every test that compares numbers.

float64: rtol 1e-10 / atol 1e-12, with the error measured against the sum of absolute terms
when a rewrite or vectorized reduction reassociates (pass `scale`); float32: rtol 1e-5.
NaN/inf positions must agree.
"""

from __future__ import annotations

import numpy as np

RTOL = {"float64": 1e-10, "float32": 1e-5}
ATOL = {"float64": 1e-12, "float32": 1e-6}


def tolerances(dtype) -> tuple[float, float]:
    name = np.dtype(dtype).name
    return RTOL.get(name, 0.0), ATOL.get(name, 0.0)


def assert_close(actual, expected, dtype=None, scale=None, rtol=None, atol=None, what: str = ""):
    """Compare arrays: same shape, same NaN/inf positions, close finite values.

    dtype picks the tolerance (defaults to expected's dtype; integers and bools compare exactly).
    scale: an array or number bounding the magnitude of the summed terms (e.g. sum(|x|)) for
    results of reassociated sums; errors are then measured relative to it.
    """
    a = np.asarray(actual)
    e = np.asarray(expected)
    label = f"{what}: " if what else ""
    assert a.shape == e.shape, f"{label}shape {a.shape} != expected {e.shape}"
    dt = np.dtype(dtype) if dtype is not None else e.dtype
    if dt.kind in "biu":
        np.testing.assert_array_equal(a, e, err_msg=label)
        return
    r, t = tolerances(dt if dt.kind == "f" else "float64")
    r = rtol if rtol is not None else r
    t = atol if atol is not None else t
    a = a.astype("float64")
    e = e.astype("float64")
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    assert np.array_equal(nan_a, nan_e), f"{label}NaN positions differ:\n{a}\nvs\n{e}"
    inf_a, inf_e = np.isinf(a), np.isinf(e)
    assert np.array_equal(inf_a, inf_e) and np.array_equal(a[inf_a], e[inf_e]), (
        f"{label}inf positions differ:\n{a}\nvs\n{e}"
    )
    fin = ~(nan_e | inf_e)
    ref = np.abs(e) if scale is None else np.broadcast_to(np.abs(np.asarray(scale, "float64")), e.shape)
    with np.errstate(invalid="ignore"):
        err = np.abs(a - e)
    bad = fin & (err > t + r * ref)
    if np.any(bad):
        idx = np.argwhere(bad)[0]
        raise AssertionError(
            f"{label}values differ at {tuple(idx)}: got {a[tuple(idx)]!r}, expected "
            f"{e[tuple(idx)]!r} (rtol {r}, atol {t}); max abs err {err[fin].max():.3g}"
        )
