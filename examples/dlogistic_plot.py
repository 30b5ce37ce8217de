"""The seed tutorial's figure: the derivative of the logistic function s(x) = 1 / (1 + exp(-x)),
computed by T.grad and compiled to C, plotted over [-6, 6] (dlogistic.png).

The tutorial's graph (`gs = T.grad(T.sum(1 / (1 + T.exp(-x))), x)` on a matrix) is evaluated on
a 1 x 601 grid and checked against the closed form s(x) (1 - s(x)).  Drawing needs matplotlib
(`pip install 'ccgrad[examples]'`); without it the values are still computed and a message says
what to install.

    python examples/dlogistic_plot.py [--out dlogistic.png]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import ccgrad
import ccgrad.tensor as T  # noqa: N812  (Theano's spelling)


def dlogistic(mode: str = "c"):
    """The tutorial's compiled gradient of the logistic function (elementwise on a matrix)."""
    x = T.dmatrix("x")
    s = T.sum(1 / (1 + T.exp(-x)))
    gs = T.grad(s, x)
    return ccgrad.function([x], gs, mode=mode, name="dlogistic")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="dlogistic.png", help="PNG file to write (default dlogistic.png)")
    ap.add_argument("--points", type=int, default=601)
    ap.add_argument("--full", action="store_true", help="same as the default")
    ap.add_argument("--mode", default="c", choices=["c", "py"])
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    say = (lambda *a: None) if args.quiet else print

    f = dlogistic(args.mode)
    xs = np.linspace(-6.0, 6.0, args.points)
    ds = f(xs[None, :])[0]
    s = 1.0 / (1.0 + np.exp(-xs))
    err = float(np.max(np.abs(ds - s * (1 - s))))
    say(f"dlogistic([[0, 1], [-1, -2]]) = {f([[0, 1], [-1, -2]]).tolist()}")
    say(f"ds/dx on [-6, 6]: max {ds.max():.4f} at x = {xs[np.argmax(ds)]:.3f}; "
        f"max |ds/dx - s(1-s)| = {err:.1e}")
    png = _plot(xs, ds, args.out, say)
    return {"x": xs, "dsdx": ds, "max_error": err, "png": png}


def _plot(xs: np.ndarray, ds: np.ndarray, out: str, say) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never opens a window
        import matplotlib.pyplot as plt
    except ImportError:
        say("matplotlib is not installed, so no figure was drawn: pip install matplotlib "
            "(or pip install 'ccgrad[examples]')")
        return None
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(xs, ds, color="tab:blue", lw=2)
    ax.set_xlabel("x")
    ax.set_ylabel("ds(x)/dx")
    ax.set_title("Gradient of the logistic function s(x) = 1 / (1 + exp(-x))")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    say(f"wrote {out}")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
