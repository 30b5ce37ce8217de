"""function(): runs the pipeline (givens -> checks -> optimize -> backend) and wraps the result
in a callable that takes and returns numpy arrays.

Backends: mode="py" evaluates the optimized graph with the numpy reference evaluator.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ccgrad.graph import (
    Constant,
    FunctionGraph,
    SharedVariable,
    Variable,
    ancestors,
    as_variable,
    builder,
    clone_replace,
    graph_inputs,
)


class UnusedInputError(ValueError):
    """An input of function() is not needed to compute any output or update."""


class MissingInputError(ValueError):
    """An output needs a variable that is neither an input nor a shared variable."""


class Out:
    """Output spec (Theano's Out).  `Out(v, borrow=True)` lets the function write each result
    into the array it returned the previous time instead of allocating a new one.

    The returned array then belongs to the function: the next call may overwrite it in place
    (in mode "c" it does whenever the shape allows; mode "py" returns fresh arrays, which is
    also allowed).  Copy it (`r.copy()`) before calling again if you need to keep it.  Calls of
    such a function are serialized by a per-function lock.
    """

    def __init__(self, variable: Variable, borrow: bool = True):
        self.variable = as_variable(variable)
        self.borrow = borrow


class In:
    """Input spec: a Variable with a name, an optional default value, and `mutable`."""

    def __init__(self, variable: Variable, name: str | None = None, value=None,
                 mutable: bool = False, borrow: bool = False):
        self.variable = variable
        self.name = name or variable.name
        self.value = value
        self.mutable = mutable
        self.borrow = borrow


MODES = ("py", "c", "debug")
DEFAULT_MODE = "c"


class FunctionMaker:
    """What function() built: `fgraph` is the optimized graph (`env` is Theano's older name).

    A warm start from the cache skips optimization; `fgraph` then optimizes on first access.
    """

    def __init__(self, fgraph: FunctionGraph | None, original: FunctionGraph, mode: str,
                 n_outputs: int, updates: list[tuple[SharedVariable, Variable]], optimize: bool = True):
        self._fgraph = fgraph
        self.original_fgraph = original
        self.mode = mode
        self.n_outputs = n_outputs
        self.updates = updates
        self._optimize = optimize

    @property
    def fgraph(self) -> FunctionGraph:
        if self._fgraph is None:
            if self._optimize:
                from ccgrad.rewrite import optimize as run_optimizer

                self._fgraph = run_optimizer(self.original_fgraph)
            else:
                self._fgraph = self.original_fgraph
        return self._fgraph

    @property
    def env(self) -> FunctionGraph:
        return self.fgraph

    @property
    def inputs(self) -> list[Variable]:
        return self.fgraph.inputs


class _FunctionAPI:
    """What both function classes share (Python-level Function and the C-dispatched CFunction):
    keyword arguments, error labels, pickling and copy.  Expects `name`, `_inputs`, `_names`."""

    def _bind_kwargs(self, args: tuple, kwargs: dict) -> tuple:
        vals = list(args) + [_MISSING] * (len(self._inputs) - len(args))
        for k, v in kwargs.items():
            matches = [i for i, var in enumerate(self._inputs) if var.name == k]
            if not matches:
                raise TypeError(f"{self._label()} has no input named {k!r}")
            vals[matches[0]] = v
        missing = [self._names[i] for i, v in enumerate(vals) if v is _MISSING]
        if missing:
            raise TypeError(f"{self._label()}: missing argument(s) {', '.join(missing)}")
        return tuple(vals)

    def _label(self) -> str:
        return f"function {self.name!r}" if self.name else "compiled function"

    def __reduce__(self):
        from ccgrad.serialize import reduce_function

        return reduce_function(self)

    def copy(self, share_memory: bool = False, swap: dict | None = None, delete_updates: bool = False,
             name: str | None = None):
        """Theano's Function.copy; see copy_function."""
        return copy_function(self, share_memory, swap, delete_updates, name)


class Function(_FunctionAPI):
    """A compiled function: f(*values) -> array or list of arrays.

    `run(values, offers)` computes the outputs then the updates; `offers` gives, per output, an
    array the result may be written into (the shared variable's own array for an update, so
    C updates happen in place; the previous result for Out(borrow=True)), or None.

    `trust_input = True` skips converting and checking the arguments: each must then already
    be an ndarray of exactly the input's dtype and ndim.  Here (a function with shared state or
    borrowed outputs) the C kernel still refuses arrays of the wrong dtype/ndim with a
    TypeError; for a plain compiled function (CFunction) a wrong argument is undefined
    behaviour.  Shapes are always checked by the kernel.

    Pickling stores the unoptimized graph, the options and the shared variables with their
    values (ccgrad.serialize), never machine code; loading compiles through function(), which
    re-links the cached module when it exists.
    """

    def __init__(self, maker: FunctionMaker, inputs: list[Variable], shared: list[SharedVariable],
                 run, single: bool, name: str | None, allow_input_downcast: bool | None,
                 borrow: list[bool] | None = None):
        self.maker = maker
        self.name = name
        self.trust_input = False
        self._inputs = inputs
        self._shared = shared
        self._run = run
        self._single = single
        self._downcast = allow_input_downcast
        self._names = [v.name or f"input {i}" for i, v in enumerate(inputs)]
        self._lock = threading.Lock() if maker.updates or any(borrow or ()) else None
        self._borrow = list(borrow or [False] * maker.n_outputs)
        self._last: list = [None] * maker.n_outputs

    def __call__(self, *args, **kwargs) -> Any:
        if kwargs:
            args = self._bind_kwargs(args, kwargs)
        if len(args) != len(self._inputs):
            raise TypeError(
                f"{self._label()} takes {len(self._inputs)} argument(s) "
                f"({', '.join(self._names)}), got {len(args)}"
            )
        if self.trust_input:
            values = list(args)
        else:
            values = [v.type.filter(a, name=n, allow_downcast=self._downcast)
                      for v, a, n in zip(self._inputs, args, self._names)]
        if self._lock is None:
            return self._finish(self._run(values + [s.container[0] for s in self._shared], None))
        with self._lock:
            updates = self.maker.updates
            offers = [last if b else None for last, b in zip(self._last, self._borrow)]
            offers += [var.container[0] for var, _ in updates]
            results = self._run(values + [s.container[0] for s in self._shared], offers)
            n_out = self.maker.n_outputs
            for (var, _), val in zip(updates, results[n_out:]):
                var.container[0] = val
            outs = results[:n_out]
            self._last = [o if b else None for o, b in zip(outs, self._borrow)]
            return self._finish(outs)

    def _finish(self, outs: list[np.ndarray]):
        outs = outs[: self.maker.n_outputs]
        if self._single:
            return outs[0]
        return outs

    def __repr__(self) -> str:
        return f"<ccgrad Function {self.name or ''} ({', '.join(self._names)}) mode={self.maker.mode}>"


_MISSING = object()


def _kernel_type():
    from ccgrad._dispatch import Kernel

    return Kernel


class CFunction(_FunctionAPI, _kernel_type()):
    """A compiled function without shared state: calls go straight to the C dispatcher.

    `trust_input = True` skips every argument check in the dispatcher: each argument must be an
    aligned, native-order ndarray of exactly the input's dtype and ndim.  Anything else (a list,
    a float32 array for a float64 input, a 1-d array for a matrix) is undefined behaviour: wrong
    results or a crash.  Shapes are still checked by the kernel.  Use it only in hot loops whose
    arguments you built yourself.
    """

    def _call_with_keywords(self, *args, **kwargs):
        """Called by the dispatcher when keywords are given."""
        return self(*self._bind_kwargs(args, kwargs))

    def __repr__(self) -> str:
        return f"<ccgrad Function {self.name or ''} ({', '.join(self._names)}) mode=c>"


def copy_function(f, share_memory: bool = False, swap: dict | None = None, delete_updates: bool = False,
                  name: str | None = None):
    """A new function computing the same graph (Theano's Function.copy).

    Shared variables stay shared with `f` unless `swap` maps them to other shared variables of
    the same type (only in the copy).  delete_updates=True drops the updates.  share_memory is
    accepted for Theano compatibility (intermediate buffers live in the C kernel).  The copy is
    compiled through function(): its module is re-linked from the cache, not rebuilt.
    """
    from ccgrad.serialize import _build_function, function_parts

    del share_memory
    inputs, outputs, updates, options = function_parts(f)
    if delete_updates:
        updates = []
    if swap:
        for old, new in swap.items():
            if not isinstance(old, SharedVariable) or not isinstance(new, SharedVariable):
                raise TypeError("copy(): swap must map shared variables to shared variables")
            if old.type != new.type:
                raise TypeError(f"copy(): cannot swap {old} ({old.type!r}) for {new} ({new.type!r})")
        repl = dict(swap)
        roots = clone_replace(outputs + [e for _, e in updates], repl)
        outputs = roots[: len(outputs)]
        updates = [(swap.get(v, v), e) for (v, _), e in zip(updates, roots[len(outputs):])]
    options["name"] = name if name is not None else (f"{f.name} copy" if f.name else None)
    from ccgrad.serialize import LoadedGraph

    return _build_function(LoadedGraph(inputs, outputs, updates, options), options)


def _as_output_list(outputs) -> tuple[list[Variable], bool]:
    if outputs is None:
        return [], False
    if isinstance(outputs, list | tuple):
        return [_out_var(o) for o in outputs], False
    return [_out_var(outputs)], True


def _out_var(o) -> Variable:
    if isinstance(o, Out):
        return o.variable
    return as_variable(o)


def _normalize_pairs(pairs, what: str) -> list[tuple[Variable, Any]]:
    if pairs is None:
        return []
    if isinstance(pairs, Mapping):
        items = list(pairs.items())
    else:
        items = list(pairs)
    for p in items:
        if not (isinstance(p, tuple | list) and len(p) == 2):
            raise TypeError(f"{what} must be a dict or a list of (variable, value) pairs")
    return [(a, b) for a, b in items]


def function(inputs: Sequence[Variable], outputs=None, mode: str | None = None, updates=None,
             givens=None, no_default_updates: bool = False, accept_inplace: bool = False,
             name: str | None = None, rebuild_strict: bool = True,
             allow_input_downcast: bool | None = None, profile=None,
             on_unused_input: str | None = None, optimize: bool = True) -> Function:
    """Compile `outputs` as a function of `inputs` (Theano's theano.function).

    mode: "c" (generated C, the default once built), "py" (numpy reference), "debug" (both,
    compared).  updates/givens: dicts or lists of pairs.  on_unused_input: 'raise' | 'warn' |
    'ignore'.
    """
    # --- collect/record hook (ccgrad/warm.py): `ccgrad cache warm` collect mode, CCGRAD_RECORD ---
    _args = dict(locals())
    from ccgrad import options as _opts

    if _opts.options.collect or _opts.options.record:
        from ccgrad import warm

        _hooked = warm.intercept(_args)
        if _hooked is not None:
            return _hooked
    # --- end of hook ---
    mode = mode or DEFAULT_MODE
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if on_unused_input is None:
        on_unused_input = "raise"
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError("on_unused_input must be 'raise', 'warn' or 'ignore'")
    if not isinstance(inputs, list | tuple):
        raise TypeError("function(): inputs must be a list of Variables")
    in_vars: list[Variable] = []
    for i, v in enumerate(inputs):
        v = v.variable if isinstance(v, In) else v
        if not isinstance(v, Variable):
            raise TypeError(f"function(): input {i} is a {type(v).__name__}, not a Variable")
        if isinstance(v, Constant):
            raise TypeError(f"function(): input {i} ({v}) is a Constant; inputs must be variables")
        if v.owner is not None:
            raise TypeError(
                f"function(): input {i} ({v}) is computed from other variables; inputs must be "
                "leaves (use givens= to substitute a value for an intermediate)"
            )
        if any(v is w for w in in_vars):
            raise ValueError(f"function(): input {v} appears twice")
        in_vars.append(v)

    out_vars, single = _as_output_list(outputs)
    update_pairs = []
    for var, expr in _normalize_pairs(updates, "updates"):
        update_pairs.append((var, _check_update(var, expr)))
    if len({id(v) for v, _ in update_pairs}) != len(update_pairs):
        dup = next(v for i, (v, _) in enumerate(update_pairs) if any(v is w for w, _ in update_pairs[:i]))
        raise ValueError(f"updates: shared variable {dup} is updated twice")

    repl = {}
    if givens:
        given = _normalize_pairs(givens, "givens")
        for old, new in given:
            if not isinstance(old, Variable) or isinstance(old, Constant):
                raise TypeError(f"givens: keys must be variables (not constants), got {old!r}")
            new = as_variable(new, dtype=old.dtype if not isinstance(new, Variable) else None)
            if new.ndim != old.ndim or new.dtype != old.dtype:
                raise TypeError(
                    f"givens: {old} ({old.type!r}) cannot be replaced by {new} ({new.type!r}): the "
                    "replacement must have the same dtype and ndim (cast it explicitly)"
                )
            repl[old] = new
        replaced = clone_replace(out_vars + [e for _, e in update_pairs], repl)
        out_vars = replaced[: len(out_vars)]
        update_pairs = [(v, e) for (v, _), e in zip(update_pairs, replaced[len(out_vars):])]
    update_pairs = _with_default_updates(out_vars, update_pairs, in_vars, repl, no_default_updates)

    roots = out_vars + [e for _, e in update_pairs]
    needed = graph_inputs(roots, stop=in_vars)
    in_ids = {id(v) for v in in_vars}
    shared: list[SharedVariable] = []
    for v in needed:
        if id(v) in in_ids:
            continue
        if isinstance(v, SharedVariable):
            shared.append(v)
            continue
        raise MissingInputError(
            f"function(): output needs input {v} ({v.type!r}), which is not in the inputs list "
            f"[{', '.join(str(i) for i in in_vars)}] and is not a shared variable"
        )
    for v, _ in update_pairs:
        if not any(v is s for s in shared):
            shared.append(v)
    used = {id(v) for v in ancestors(roots, stop=in_vars)}
    unused = [v for v in in_vars if id(v) not in used]
    if unused and on_unused_input != "ignore":
        msg = (
            f"function(): input(s) {', '.join(str(v) for v in unused)} are not used to compute "
            "any output (pass on_unused_input='ignore' or 'warn' to allow this)"
        )
        if on_unused_input == "raise":
            raise UnusedInputError(msg)
        warnings.warn(msg, stacklevel=2)

    all_inputs = in_vars + shared
    original = FunctionGraph(all_inputs, roots)
    maker = FunctionMaker(None, original, mode, len(out_vars), update_pairs, optimize)
    borrow = [isinstance(o, Out) and o.borrow for o in (outputs if isinstance(outputs, list | tuple) else [outputs])]
    borrow = borrow[: len(out_vars)] if out_vars else []
    # Updates may be computed in place: output n_out + u may take shared variable u's buffer.
    donate = {len(out_vars) + u: len(in_vars) + shared.index(var) for u, (var, _) in enumerate(update_pairs)}
    if mode == "c":
        compiled = _compiled(maker, name, donate)
        if not shared and not any(borrow):
            return _c_function(compiled, maker, in_vars, single, name, allow_input_downcast)
        run = compiled.runner()
    elif mode == "py":
        run = _py_runner(maker.fgraph)
    else:
        run = _debug_runner(maker.fgraph, name, donate)
    return Function(maker, in_vars, shared, run, single, name, allow_input_downcast, borrow)


def _check_update(var, expr) -> Variable:
    """The update expression for shared variable `var`, or TypeError naming it.  Safe dtype
    casts are inserted (an int expression updating a float variable); lossy ones refused."""
    if not isinstance(var, SharedVariable):
        raise TypeError(f"updates: {var} is not a shared variable (only shared variables can be updated)")
    expr = as_variable(expr)
    if expr.ndim != var.ndim:
        raise TypeError(f"updates: shared variable {var} has type {var.type!r}, its update has {expr.type!r}")
    if expr.dtype != var.dtype:
        if not np.can_cast(expr.dtype, var.dtype, "safe"):
            raise TypeError(
                f"updates: shared variable {var} is {var.dtype} but its update is {expr.dtype}; casting "
                f"would lose information (cast the update explicitly: expr.astype('{var.dtype}'))"
            )
        expr = builder("cast")(expr, var.dtype)
    for axis, (s, e) in enumerate(zip(var.type.shape, expr.type.shape)):
        if s is not None and s != e:
            raise TypeError(
                f"updates: shared variable {var} has static shape {var.type.shape} but its update has "
                f"{expr.type.shape} (axis {axis}); the update must keep the variable's static shape"
            )
    return expr


def _with_default_updates(out_vars, update_pairs, in_vars, repl, no_default_updates):
    """update_pairs plus the default updates (SharedVariable.default_update) of the shared
    variables the graph reads, unless no_default_updates excludes them (Theano's rule); givens
    apply to default updates too."""
    from ccgrad.sharedvar import collect_default_updates

    if no_default_updates is True:
        return update_pairs
    pairs = list(update_pairs)
    while True:
        roots = out_vars + [e for _, e in pairs]
        leaves = [v for v in graph_inputs(roots, stop=in_vars) if isinstance(v, SharedVariable)]
        new = collect_default_updates(leaves, [v for v, _ in pairs], no_default_updates)
        if not new:
            return pairs
        exprs = [_check_update(v, v.default_update) for v in new]
        if repl:
            exprs = clone_replace(exprs, repl)
        pairs.extend(zip(new, exprs))


def _compiled(maker: FunctionMaker, name: str | None, donate: dict[int, int] | None = None):
    """The C build for maker's graph: found by the unoptimized graph's fingerprint (no
    optimizing or lowering), else optimized, lowered, built and remembered."""
    from ccgrad import backend

    fp, hit = backend.lookup(maker.original_fgraph, donate) if maker._optimize else (None, None)
    if hit is not None:
        return hit
    return backend.build(maker.fgraph, name, fp, donate)


def _debug_runner(fgraph: FunctionGraph, name: str | None, donate: dict[int, int] | None = None):
    """Run the C build and the numpy reference; raise on any disagreement (Theano's DebugMode)."""
    from ccgrad import backend

    c_run = backend.build(fgraph, name, donate=donate).runner()
    py_run = _py_runner(fgraph)

    def run(values: list[np.ndarray], offers=None) -> list[np.ndarray]:
        want = py_run(values)
        got = c_run(values)
        for i, (g, w) in enumerate(zip(got, want)):
            if g.shape != w.shape or g.dtype != w.dtype:
                raise AssertionError(f"debug mode: output {i}: C gave {g.dtype}{g.shape}, "
                                     f"reference {w.dtype}{w.shape}")
            if w.dtype.kind == "f":
                ok = np.allclose(g, w, rtol=1e-5 if w.dtype == np.float32 else 1e-10,
                                 atol=1e-6 if w.dtype == np.float32 else 1e-12, equal_nan=True)
            else:
                ok = np.array_equal(g, w)
            if not ok:
                raise AssertionError(f"debug mode: output {i} differs between C and the reference:"
                                     f"\nC:   {g}\nref: {w}")
        return got

    return run


def _c_function(compiled, maker: FunctionMaker, in_vars: list[Variable], single: bool, name: str | None,
                allow_input_downcast: bool | None):
    from ccgrad import backend

    names = backend.arg_names(in_vars)
    f = CFunction(**compiled.kernel_args(names, allow_input_downcast, single))
    f.maker = maker
    f._single = single
    f._downcast = allow_input_downcast
    f.name = name
    f._names = names
    f._inputs = in_vars
    f._compiled = compiled
    return f


def _py_runner(fgraph: FunctionGraph):
    from ccgrad.evaluate import evaluate

    order = fgraph.toposort()
    inputs = fgraph.inputs
    outputs = fgraph.outputs

    def run(values: list[np.ndarray], offers=None) -> list[np.ndarray]:
        env = dict(zip(inputs, values))
        res = evaluate(outputs, env, order)
        # Outputs never alias inputs or each other (Theano's guarantee).
        out, seen = [], set()
        in_ids = {id(v) for v in values}
        for r in res:
            if id(r) in seen or id(r) in in_ids or not r.flags.owndata or not r.flags.writeable:
                r = np.array(r, copy=True)
            seen.add(id(r))
            out.append(r)
        return out

    return run
