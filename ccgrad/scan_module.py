"""Theano's scan API (`theano.scan_module`): `scan()` builds one step of a loop by calling the
user's function on symbolic inputs and makes a Scan op of it (ccgrad/ops/scan.py); `until`
stops a loop early; `OrderedUpdates` is what scan returns as updates; `map`, `reduce`, `foldl`,
`foldr` are scan views."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Constant, SharedVariable, Variable, as_variable, builder
from ccgrad.ops.scan import Scan, _lead, _row, build_scan
from ccgrad.ops.symint import as_int64, static_int, sym_min

__all__ = ["OrderedUpdates", "Scan", "foldl", "foldr", "map", "reduce", "scan", "until"]


class until:  # noqa: N801  (Theano's spelling)
    """Returned by a scan step function (``return outputs, until(cond)``): the loop stops after
    the first step whose `condition` is true; that step's outputs are kept."""

    def __init__(self, condition):
        c = as_variable(condition)
        if c.ndim != 0:
            raise TypeError(f"until: the condition must be a scalar, got {c.type!r}")
        self.condition = c if c.dtype == "bool" else builder("neq")(c, 0)


class OrderedUpdates(OrderedDict):
    """The updates scan returns (Theano's OrderedUpdates): shared variable -> new value, for
    function(..., updates=...)."""

    def __setitem__(self, key, value):
        if not isinstance(key, SharedVariable):
            raise TypeError(f"updates: keys must be shared variables, got {type(key).__name__}")
        super().__setitem__(key, value)


def _as_list(x) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, list | tuple) else [x]


def _is_output(e) -> bool:
    return isinstance(e, Variable | int | float | np.ndarray | np.generic) and not isinstance(e, bool)


def _kind(e) -> str | None:
    if isinstance(e, until):
        return "cond"
    if isinstance(e, dict):
        return "updates"
    if _is_output(e):
        return "outputs"
    if isinstance(e, list | tuple):
        if all(_is_output(x) for x in e):
            return "outputs"
        if all(isinstance(x, list | tuple) and len(x) == 2 and isinstance(x[0], SharedVariable) for x in e):
            return "updates"
    return None


def _parse_step(ret) -> tuple[Variable | None, list[Variable], dict]:
    """What a step function returned -> (condition, outputs, updates).  Theano's forms (outputs,
    (outputs, updates), (outputs, until(c)), (outputs, updates, until(c)), in any order), and
    outputs given loose: (o1, o2, until(c))."""
    parts: dict[str, object] = {}
    k = _kind(ret)
    if k is not None:
        parts[k] = ret
    elif isinstance(ret, list | tuple) and all(_kind(e) for e in ret):
        loose = []
        for e in ret:
            ke = _kind(e)
            if ke == "outputs" and not isinstance(e, list | tuple):
                loose.append(e)
                continue
            if ke in parts:
                raise ValueError(f"scan: the step function returned two {ke} in {ret!r}")
            parts[ke] = e
        if loose:
            if "outputs" in parts:
                raise ValueError(f"scan: the step function returned outputs both in a list and loose: {ret!r}")
            parts["outputs"] = loose
    else:
        raise ValueError("scan: the step function must return outputs, (outputs, updates), (outputs, until(c)) or "
                         f"(outputs, updates, until(c)); got {ret!r}")
    outs = parts.get("outputs", [])
    outs = [as_variable(o) for o in (outs if isinstance(outs, list | tuple) else [outs])]
    ups = parts.get("updates", {})
    ups = dict(ups) if not isinstance(ups, dict) else ups
    cond = parts.get("cond")
    return (cond.condition if cond is not None else None), outs, ups


def _tap_name(var: Variable, k: int) -> str | None:
    if var.name is None:
        return None
    return f"{var.name}[t{k:+d}]" if k else f"{var.name}[t]"


def scan(fn: Callable, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         truncate_gradient: int = -1, go_backwards: bool = False, mode=None, name: str | None = None,
         profile=False, allow_gc=None, strict: bool = False, return_list: bool = False):
    """Theano's scan: call `fn` once on symbolic inputs to build one step, and loop it.

    fn receives, in order: each sequence's rows (one argument per tap, in the order given; a
    sequence is a Variable or dict(input=x, taps=[-1, 0])), the previous values of each recurrent
    output (outputs_info: an initial value for tap -1, dict(initial=h0, taps=[-2, -1]) with h0
    holding the needed history, or None for an output that is not fed back), then the
    non_sequences themselves (so fn may differentiate outer expressions with T.grad).  fn returns
    its outputs, optionally with an updates dict and/or `until(cond)`.  The loop runs n_steps
    steps (default: the shortest sequence), stopping early when `until` fires.  Returns (outputs,
    updates): each output stacked over the steps (recurrent outputs without their initial
    history), a single output unwrapped unless return_list.  mode, profile and allow_gc are
    accepted for Theano compatibility and ignored.
    """
    # Sequences: one aligned (and possibly reversed) outer slice per tap.
    seq_pairs: list[tuple[Variable, Variable]] = []
    for i, s in enumerate(_as_list(sequences)):
        if isinstance(s, dict):
            bad = set(s) - {"input", "taps"}
            if bad or "input" not in s:
                raise ValueError(f"scan: sequence {i} must be a Variable or dict(input=..., taps=[...]), "
                                 f"got keys {sorted(s)}")
            var, taps = as_variable(s["input"]), s.get("taps")
            taps = [0] if taps is None else [int(k) for k in _as_list(taps)]
        else:
            var, taps = as_variable(s), [0]
        if var.ndim == 0:
            raise TypeError(f"scan: sequence {i} is 0-d ({var.type!r}); sequences are iterated over their first axis")
        if not taps or len(set(taps)) != len(taps):
            raise ValueError(f"scan: sequence {i} has invalid taps {taps}")
        lo, hi = min(min(taps), 0), max(max(taps), 0)
        for k in taps:
            sl = var if k - lo == 0 and k == hi else var[k - lo:(None if k == hi else k - hi)]
            if go_backwards:
                sl = sl[::-1]
            seq_pairs.append((sl, _row(sl)(_tap_name(var, k))))
    # Number of steps.
    if n_steps is not None:
        if isinstance(n_steps, float):
            n_steps = int(n_steps)
        n = as_variable(n_steps) if isinstance(n_steps, Variable) else as_int64(int(n_steps))
        if n.ndim != 0 or n.dtype not in dtypes.INTS:
            raise ValueError(f"scan: n_steps must be an integer scalar, got {n.type!r}")
        if static_int(n) is not None and static_int(n) < 0:
            raise ValueError(f"scan: n_steps must be >= 0, got {static_int(n)} (negative n_steps are not supported)")
    elif seq_pairs:
        n = builder("shape_i")(seq_pairs[0][0], 0)
        for o, _ in seq_pairs[1:]:
            n = sym_min(n, builder("shape_i")(o, 0))
        n = as_int64(n)
    else:
        raise ValueError("scan: no information about the number of steps: give n_steps or a sequence")
    # Recurrent outputs.
    infos: list[tuple[Variable, list[int]] | None] = []
    for i, o in enumerate(_as_list(outputs_info)):
        if isinstance(o, dict):
            bad = set(o) - {"initial", "taps", "inplace"}
            if bad:
                raise ValueError(f"scan: unexpected keys {sorted(bad)} in outputs_info[{i}]")
            init, taps = o.get("initial"), o.get("taps")
            if init is None:
                if taps:
                    raise ValueError(f"scan: outputs_info[{i}] has taps {taps} but no initial state")
                infos.append(None)
                continue
            taps = [-1] if taps is None else [int(k) for k in _as_list(taps)]
            if not taps or any(k >= 0 for k in taps) or len(set(taps)) != len(taps):
                raise ValueError(f"scan: outputs_info[{i}]: taps must be distinct negative ints, got {taps}")
            infos.append((as_variable(init), taps))
        elif o is None:
            infos.append(None)
        else:
            infos.append((as_variable(o), [-1]))
    non_seqs = [as_variable(v) for v in _as_list(non_sequences)]

    inits = [None if info is None else info[0] for info in infos]
    for _attempt in range(2):
        hists, tap_phs, args = [], [], [p for _, p in seq_pairs]
        for i, info in enumerate(infos):
            if info is None:
                tap_phs.append(None)
                continue
            init, taps = inits[i], info[1]
            if taps == [-1]:
                hist, row = _lead(init), init.type
            else:
                L = -min(taps)
                if init.ndim == 0:
                    raise TypeError(f"scan: outputs_info[{i}] with taps {taps} needs an initial value with a "
                                    f"leading time axis of >= {L} rows, got a scalar")
                hist, row = (init if init.type.shape[0] == L else init[:L]), _row(init)
            phs = [row(_tap_name(init, k)) for k in taps]
            hists.append(hist)
            tap_phs.append(phs)
            args.extend(phs)
        cond, outs, updates = _parse_step(fn(*args, *non_seqs))
        if updates:
            raise NotImplementedError("scan: shared-variable updates returned by the step function are not supported")
        if infos and len(outs) != len(infos):
            raise ValueError(f"scan: the step function returned {len(outs)} outputs but outputs_info has "
                             f"{len(infos)} entries; give None for outputs that are not fed back")
        if not outs:
            raise ValueError("scan: the step function returned no outputs")
        retry = False
        for i, info in enumerate(infos):
            if info is None or outs[i].dtype == inits[i].dtype:
                continue
            if isinstance(inits[i], Constant) and inits[i].weak and _attempt == 0:
                inits[i] = builder("cast")(inits[i], outs[i].dtype)  # a Python number adapts
                retry = True
                continue
            raise TypeError(f"scan: output {i} of the step function has dtype {outs[i].dtype}, but its initial state "
                            f"(outputs_info[{i}]) has dtype {inits[i].dtype}; the step function must not up- or "
                            "downcast a recurrent output (cast the initial value or the result)")
        if not retry:
            break
    if strict:
        _check_strict(outs + ([cond] if cond is not None else []), non_seqs, [p for _, p in seq_pairs])
    infos = infos or [None] * len(outs)
    carry_idx = [i for i, info in enumerate(infos) if info is not None]
    nit_idx = [i for i, info in enumerate(infos) if info is None]
    carries = [(hists[k], infos[i][1], tap_phs[i], outs[i]) for k, i in enumerate(carry_idx)]
    res = build_scan(n, seq_pairs, carries, [outs[i] for i in nit_idx], (), cond, truncate_gradient, name)
    result: list = [None] * len(outs)
    for k, i in enumerate(carry_idx + nit_idx):
        result[i] = res[k]
    if len(result) == 1 and not return_list:
        return result[0], OrderedUpdates()
    return result, OrderedUpdates()


def _check_strict(outs: list[Variable], non_seqs: list[Variable], phs: list[Variable]) -> None:
    """strict=True: every shared variable the step uses must be among the non_sequences."""
    from ccgrad.function import MissingInputError
    from ccgrad.graph import graph_inputs

    given = {id(v) for v in non_seqs}
    for v in graph_inputs(outs, stop=non_seqs + phs):
        if isinstance(v, SharedVariable) and id(v) not in given:
            raise MissingInputError(f"scan(strict=True): the step function uses shared variable {v}, which is not "
                                    "in non_sequences")


# ---------------------------------------------------------------------------------------------
# views


def map(fn: Callable, sequences, non_sequences=None, truncate_gradient: int = -1,  # noqa: A001
        go_backwards: bool = False, mode=None, name: str | None = None):
    """fn applied to each step of the sequences: scan without recurrent outputs."""
    return scan(fn, sequences=sequences, outputs_info=None, non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode, name=name)


def reduce(fn: Callable, sequences, outputs_info, non_sequences=None, go_backwards: bool = False,
           mode=None, name: str | None = None):
    """scan keeping only the last step of each output: (last values, updates)."""
    outs, updates = scan(fn, sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences,
                         go_backwards=go_backwards, mode=mode, name=name)
    if isinstance(outs, list):
        return [o[-1] for o in outs], updates
    return outs[-1], updates


def foldl(fn: Callable, sequences, outputs_info, non_sequences=None, mode=None, name: str | None = None):
    """reduce from the first element of the sequences to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False, mode=mode, name=name)


def foldr(fn: Callable, sequences, outputs_info, non_sequences=None, mode=None, name: str | None = None):
    """reduce from the last element of the sequences to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True, mode=mode, name=name)
