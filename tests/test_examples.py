"""The examples in examples/ run quickly (in process through main(), and as scripts) and give
the results they promise."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import ccgrad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


@pytest.fixture(autouse=True)
def _shared_export(monkeypatch):
    """Until ccgrad/__init__.py exports `shared`, provide it for in-process runs."""
    if not hasattr(ccgrad, "shared"):
        from ccgrad.sharedvar import shared

        monkeypatch.setattr(ccgrad, "shared", shared, raising=False)


def _run_script(name: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    return proc


# -- logistic regression -----------------------------------------------------------------------


def test_logistic_regression_step_matches_numpy():
    from examples import logistic_regression as ex

    X, Y, w0 = ex.make_data(1)
    w0 = 0.01 * w0  # unsaturated start: every formula is well conditioned
    model = ex.build(w0, mode="c")
    w, b = w0.copy(), 0.0
    for _ in range(5):
        pred, xent = model.train(X, Y)
        pred_np, xent_np, w, b = ex.numpy_step(X, Y, w, b)
        np.testing.assert_array_equal(pred, pred_np)
        np.testing.assert_allclose(xent, xent_np, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.w.get_value(), w, rtol=0, atol=1e-12)
    assert abs(model.b.get_value() - b) <= 1e-12
    np.testing.assert_array_equal(model.predict(X), 1.0 / (1.0 + np.exp(-(X @ w) - b)) > 0.5)


def test_logistic_regression_main_quick():
    from examples import logistic_regression as ex

    r = ex.main(["--steps", "20", "--quiet"])
    assert r["steps"] == 20 and r["w"].shape == (784,) and r["prediction"].shape == (400,)
    assert r["prediction"].dtype == np.bool_


def test_logistic_regression_theano_start_stays_finite():
    from examples import logistic_regression as ex

    r = ex.main(["--steps", "20", "--quiet"])
    assert np.all(np.isfinite(r["w"])) and np.isfinite(r["b"])


@pytest.mark.skipif(not hasattr(ccgrad, "shared"), reason="ccgrad/__init__.py does not export shared yet")
def test_logistic_regression_as_script():
    out = _run_script("logistic_regression.py", "--steps", "5").stdout
    assert "400 samples x 784 features, 5 steps" in out


# -- scipy trust-ncg on Rosenbrock ------------------------------------------------------------


def test_rosenbrock_trust_ncg_same_iterations():
    pytest.importorskip("scipy")
    from examples import rosenbrock_trust_ncg as ex

    r = ex.main(["--quiet"])  # n = 1000, the size (a few ms per run)
    assert r["n"] == 1000
    assert r["check"] < 1e-9
    c, n = r["runs"]["ccgrad"], r["runs"]["numpy"]
    assert c["success"] and n["success"]
    assert c["nit"] == n["nit"] and c["nhev"] == n["nhev"]
    np.testing.assert_allclose(c["x"], np.ones(1000), atol=1e-6)
    assert r["same_iterations"]


def test_rosenbrock_as_script():
    pytest.importorskip("scipy")
    out = _run_script("rosenbrock_trust_ncg.py", "--n", "50").stdout
    assert "same number of iterations: True" in out


# -- the seed's figure -----------------------------------------------------------------------


def test_dlogistic_plot(tmp_path):
    from examples import dlogistic_plot as ex

    png = tmp_path / "dlogistic.png"
    r = ex.main(["--out", str(png), "--quiet", "--points", "101"])
    assert r["max_error"] < 1e-15
    assert r["dsdx"].shape == (101,) and abs(r["dsdx"].max() - 0.25) < 1e-15
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert r["png"] is None
    else:
        assert r["png"] == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dlogistic_without_matplotlib(tmp_path, monkeypatch, capsys):
    from examples import dlogistic_plot as ex

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError
    r = ex.main(["--out", str(tmp_path / "x.png"), "--points", "11"])
    assert r["png"] is None and not (tmp_path / "x.png").exists()
    assert "matplotlib is not installed" in capsys.readouterr().out


def test_dlogistic_as_script(tmp_path):
    out = _run_script("dlogistic_plot.py", "--out", str(tmp_path / "d.png"), "--points", "21").stdout
    assert "dlogistic([[0, 1], [-1, -2]]) = [[0.25, 0.19661193324148185]" in out
