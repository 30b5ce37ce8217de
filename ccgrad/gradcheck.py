"""The finite-difference gradient check: verify_grad (Theano's), numeric_grad and the
GradientError it raises.  Re-exported by ccgrad.gradient, where users reach them."""

from __future__ import annotations

import numpy as np

from ccgrad.graph import TensorType, as_variable, builder

__all__ = ["GradientError", "numeric_grad", "verify_grad"]


class GradientError(Exception):
    """verify_grad found analytic and numeric gradients that disagree.

    `arg` is the input index, `err_pos` the flat position of the worst element, `abs_err` and
    `rel_err` the errors there (Theano's fields); `max_abs_err`/`max_rel_err` are the largest
    errors over that input.
    """

    def __init__(self, arg: int, err_pos: int, abs_err: float, rel_err: float, abs_tol: float,
                 rel_tol: float, *, shape: tuple | None = None, analytic: float | None = None,
                 numeric: float | None = None, max_abs_err: float | None = None,
                 max_rel_err: float | None = None):
        super().__init__()
        self.arg, self.err_pos, self.shape = arg, err_pos, shape
        self.abs_err, self.rel_err = abs_err, rel_err
        self.abs_tol, self.rel_tol = abs_tol, rel_tol
        self.analytic, self.numeric = analytic, numeric
        self.max_abs_err = abs_err if max_abs_err is None else max_abs_err
        self.max_rel_err = rel_err if max_rel_err is None else max_rel_err

    def __str__(self) -> str:
        where = f"input {self.arg}" + (f" (shape {self.shape})" if self.shape is not None else "")
        vals = ""
        if self.analytic is not None:
            vals = f": analytic {self.analytic!r}, numeric {self.numeric!r}"
        return (
            f"GradientError: numeric and analytic gradients disagree for {where} at flat position "
            f"{self.err_pos}{vals}; abs. error {self.abs_err:.4g} (tolerance {self.abs_tol:.3g}), "
            f"rel. error {self.rel_err:.4g} (tolerance {self.rel_tol:.3g}); max over the input: "
            f"abs. error {self.max_abs_err:.4g}, rel. error {self.max_rel_err:.4g}"
        )


def numeric_grad(fn, pt: list[np.ndarray], eps: float) -> list[np.ndarray]:
    """Central differences of the scalar-valued fn at pt (one float64 array per argument)."""
    return _numeric_projected(fn, [np.asarray(p) for p in pt], [np.ones(())], eps)[0]


_EPS = {"float64": 1e-6, "float32": 1e-3}
_TOL = {"float64": 1e-4, "float32": 1e-2}


def verify_grad(fun, pt, n_tests: int = 2, rng=None, eps: float | None = None,
                abs_tol: float | None = None, rel_tol: float | None = None, mode=None, *,
                out_type=None, cast_to_output_type: bool = False, no_debug_ref: bool = True) -> None:
    """Check the symbolic gradient of `fun` at `pt` against central finite differences.

    `fun` maps symbolic inputs (one per array in `pt`, float32/float64) to one symbolic output.
    For `n_tests` random projections u (uniform in [0.5, 1.5)), the gradient of sum(u * fun) is
    compared with central differences of step `eps` (default 1e-6 for float64, 1e-3 for float32);
    an element fails when its absolute and relative errors both exceed `abs_tol` and `rel_tol`
    (default 1e-4, float32 1e-2), as in Theano.  Raises GradientError naming the input, the
    position and the errors.  `rng`: numpy Generator/RandomState or seed (default: seed 0).
    Inputs get a broadcastable axis where pt has length 1, as in Theano.  `out_type` and
    `no_debug_ref` are accepted for Theano compatibility and ignored.
    """
    from ccgrad.function import function
    from ccgrad.gradient import grad

    if not isinstance(pt, list | tuple):
        raise TypeError("verify_grad: pt must be a list or tuple of numpy arrays")
    pt = [np.array(p) for p in pt]
    for i, p in enumerate(pt):
        if p.dtype.name not in _EPS:
            raise TypeError(f"verify_grad works only with float32/float64 inputs; input {i} has dtype {p.dtype}")
    if rng is None or isinstance(rng, int | np.integer):
        rng = np.random.default_rng(0 if rng is None else int(rng))
    low = "float32" if any(p.dtype == np.float32 for p in pt) else "float64"
    eps = _EPS[low] if eps is None else eps
    abs_tol = _TOL[low] if abs_tol is None else abs_tol
    rel_tol = _TOL[low] if rel_tol is None else rel_tol

    inputs = [TensorType(p.dtype.name, shape=tuple(1 if s == 1 else None for s in p.shape))(f"input {i}")
              for i, p in enumerate(pt)]
    out = fun(*inputs)
    if isinstance(out, list | tuple):
        raise TypeError("verify_grad: fun must return a single Variable (project several outputs yourself)")
    out = as_variable(out)
    kw = {"mode": mode, "on_unused_input": "ignore", "allow_input_downcast": True}
    out_fn = function(inputs, out, **kw)
    o_val = np.asarray(out_fn(*[p.copy() for p in pt]))
    proj_dtype = out.dtype if cast_to_output_type and out.dtype == "float32" else "float64"
    proj_t = TensorType(proj_dtype, shape=(None,) * out.ndim)("random_projection")
    cost = builder("sum")(builder("cast")(out, proj_dtype) * proj_t)
    grad_fn = function(inputs + [proj_t], grad(cost, inputs, disconnected_inputs="ignore"), **kw)

    projs = [(rng.random(o_val.shape) + 0.5).astype(proj_dtype) for _ in range(n_tests)]
    numeric = _numeric_projected(out_fn, pt, projs, eps)
    for t, proj in enumerate(projs):
        analytic = [np.asarray(a, dtype="float64") for a in grad_fn(*[p.copy() for p in pt], proj)]
        _compare(analytic, numeric[t], abs_tol, rel_tol)


def _numeric_projected(out_fn, pt: list[np.ndarray], projs: list[np.ndarray], eps: float) -> list[list]:
    """For each projection u, central differences of sum(u * out) for every input element.

    The output is evaluated 2 * size(pt) times in all, whatever the number of projections.
    """
    res = [[np.zeros(p.shape) for p in pt] for _ in projs]
    base = [np.array(p, copy=True, order="C") for p in pt]  # C order: reshape(-1) is a view
    u64 = [np.asarray(u, dtype="float64") for u in projs]
    for i, p in enumerate(base):
        pf = p.reshape(-1)
        for k in range(pf.size):
            orig = pf[k]
            pf[k] = orig + eps
            hi_x, hi = float(pf[k]), np.asarray(out_fn(*base), dtype="float64")
            pf[k] = orig - eps
            lo_x, lo = float(pf[k]), np.asarray(out_fn(*base), dtype="float64")
            pf[k] = orig
            step = hi_x - lo_x  # the step actually taken in the input's precision
            for t, u in enumerate(u64):
                res[t][i].reshape(-1)[k] = float(np.sum(u * (hi - lo))) / step
    return res


def _compare(analytic: list[np.ndarray], numeric: list[np.ndarray], abs_tol: float, rel_tol: float) -> None:
    """Theano's max_err: the worst element by min(abs/abs_tol, rel/rel_tol) over all inputs."""
    worst = None
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        if a.shape != n.shape:
            raise GradientError(i, 0, np.inf, np.inf, abs_tol, rel_tol, shape=n.shape,
                                analytic=f"array of shape {a.shape}", numeric=f"array of shape {n.shape}")
        if a.size == 0:
            continue
        with np.errstate(invalid="ignore", over="ignore"):
            abs_err = np.abs(a - n)
            rel_err = abs_err / np.maximum(np.abs(a) + np.abs(n), 1e-8)
        same_inf = np.isinf(a) & (a == n)
        bad_val = ~np.isfinite(abs_err) & ~same_inf
        abs_err = np.where(bad_val, np.inf, np.where(same_inf, 0.0, abs_err))
        rel_err = np.where(bad_val, np.inf, np.where(same_inf, 0.0, rel_err))
        scaled = np.minimum(abs_err / abs_tol, rel_err / rel_tol).reshape(-1)
        pos = int(np.argmax(scaled))
        if worst is None or scaled[pos] > worst[0]:
            worst = (scaled[pos], i, pos, a, n, abs_err, rel_err)
    if worst is None:
        return
    _, i, pos, a, n, abs_err, rel_err = worst
    ae, re = float(abs_err.reshape(-1)[pos]), float(rel_err.reshape(-1)[pos])
    if ae > abs_tol and re > rel_tol:
        raise GradientError(i, pos, ae, re, abs_tol, rel_tol, shape=a.shape,
                            analytic=float(a.reshape(-1)[pos]), numeric=float(n.reshape(-1)[pos]),
                            max_abs_err=float(abs_err.max()), max_rel_err=float(rel_err.max()))
