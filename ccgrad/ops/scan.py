"""Scan: Theano's symbolic loop as one op.  The `Scan` op (its inner graph, numpy reference,
shapes, vjp = back-propagation through time as another Scan, jvp, batch rule) and `build_scan`,
the one constructor every Scan goes through (it lifts loop-invariant values out of the inner
graph).  The user-facing `scan()`, `until` and `OrderedUpdates` are in ccgrad/scan_module.py
(also reachable here as ccgrad.ops.scan.scan / .until).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ccgrad import dtypes
from ccgrad.evaluate import evaluate
from ccgrad.fingerprint import fingerprint
from ccgrad.graph import (
    Apply,
    Constant,
    FunctionGraph,
    Op,
    TensorType,
    Variable,
    as_variable,
    builder,
    clone_replace,
    toposort,
)
from ccgrad.ops.symint import as_int64, static_int, sym_add, sym_min, sym_sub

__all__ = ["Scan", "build_scan"]


def _compatible(a: Sequence, b: Sequence) -> bool:
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _row(v: Variable) -> TensorType:
    """The type of one row (axis 0 removed) of v."""
    return TensorType(v.dtype, shape=v.type.shape[1:])


def _lead(v: Variable) -> Variable:
    """v with a new leading axis of length 1."""
    return builder("dimshuffle")(v, ("x",) + tuple(range(v.ndim)))


def _last(init: Variable, out: Variable) -> Variable:
    """The final value of a tap -1 carry: its last output row, or its initial row after 0 steps."""
    return builder("join")(0, init, out)[-1]


class Scan(Op):
    """One symbolic loop.  The representation (what the C lowering reads):

    Outer inputs, in order: ``n_steps`` (int64 scalar: the loop runs exactly n_steps steps, or
    fewer with `until`); ``n_seqs`` sequences (step t reads row t; each must have >= n_steps rows,
    later rows are ignored; sequence taps and go_backwards are resolved by `scan()` into aligned,
    possibly reversed slices of the user's sequence, one outer input per tap); one history array
    per carried state c, of shape (L_c, *state) with L_c = -min(carry_taps[c]): row r holds the
    state at time r - L_c (a tap -1 carry gets its initial value with a new leading axis);
    ``n_non_seqs`` non-sequences, passed whole to every step (the user's non_sequences and every
    loop-invariant value the step uses, lifted out of the inner graph by `build_scan`).

    Inner graph ``self.fgraph`` (a FunctionGraph without free variables: every leaf is one of its
    inputs or a Constant).  Inputs: one row per sequence; then per carry c, one state per tap k
    in carry_taps[c] order (the state at time t + k, k < 0); then one per non-sequence.  Outputs:
    the new state of each carry (time t), then the ``n_nit`` per-step outputs, then (if
    ``as_while``) a 0-d bool condition: when true, the loop stops after this step (its outputs are
    kept).  An inner output may be an inner input or a Constant.

    Outer outputs: per carry the n_run new states (n_run, *state) (not the initial history),
    then per per-step output (n_run, *shape); n_run = n_steps, or the steps run under `until`.
    A carry's new state must have its state's shape at every step, and a per-step output the
    same shape at every step (run-time ValueError otherwise).

    ``truncate_gradient`` (-1 or >= 0) limits back-propagation to the last that many steps.
    Equality is structural: the props hold the inner graph's fingerprint.
    """

    __props__ = ("n_seqs", "carry_taps", "n_nit", "n_non_seqs", "as_while", "truncate_gradient", "inner_fp",
                 "keep_last")

    def __init__(self, fgraph: FunctionGraph, n_seqs: int, carry_taps: Sequence[Sequence[int]], n_nit: int,
                 as_while: bool = False, truncate_gradient: int = -1, name: str | None = None,
                 keep_last: Sequence[bool] | None = None):
        self.fgraph = fgraph
        self.n_seqs = int(n_seqs)
        self.carry_taps = tuple(tuple(int(k) for k in taps) for taps in carry_taps)
        self.n_nit = int(n_nit)
        self.n_taps = sum(len(t) for t in self.carry_taps)
        self.n_non_seqs = len(fgraph.inputs) - self.n_seqs - self.n_taps
        self.as_while = bool(as_while)
        self.truncate_gradient = int(truncate_gradient)
        self.name = name
        for taps in self.carry_taps:
            if not taps or any(k >= 0 for k in taps) or len(set(taps)) != len(taps):
                raise ValueError(f"Scan: carry taps must be distinct negative ints, got {taps}")
        n_out = len(self.carry_taps) + self.n_nit + self.as_while
        if self.n_non_seqs < 0 or len(fgraph.outputs) != n_out:
            raise ValueError(f"Scan: inner graph has {len(fgraph.inputs)} inputs / {len(fgraph.outputs)} outputs, "
                             f"inconsistent with {self.n_seqs} sequences, taps {self.carry_taps}, "
                             f"{n_nit} per-step outputs")
        if self.truncate_gradient < -1:
            raise ValueError(f"Scan: truncate_gradient must be -1 or >= 0, got {truncate_gradient}")
        # keep_last[c]: the optimizer found that only carry c's final state is used, so output c
        # is that state (shape *state: the last new state, or the last initial row after 0
        # steps) and the loop keeps only L + 1 rows of its history instead of every step.
        self.keep_last = tuple(bool(k) for k in (keep_last or (False,) * len(self.carry_taps)))
        if len(self.keep_last) != len(self.carry_taps):
            raise ValueError(f"Scan: keep_last needs one flag per carried output, got {self.keep_last}")
        self.inner_fp = fingerprint(fgraph)
        self._order = fgraph.toposort()
        self._dep: list[int] | None = None

    def _differentiable(self) -> None:
        if any(self.keep_last):
            raise NotImplementedError(
                "this Scan was rewritten by the optimizer to keep only final states; differentiate or "
                "vectorize the graph before optimizing it (function() does)")

    # -- layout helpers
    @property
    def n_carries(self) -> int:
        return len(self.carry_taps)

    def tap_slots(self, c: int) -> range:
        """Inner input positions of carry c's taps."""
        start = self.n_seqs + sum(len(t) for t in self.carry_taps[:c])
        return range(start, start + len(self.carry_taps[c]))

    def history(self, c: int) -> int:
        return -min(self.carry_taps[c])

    def _split(self, xs: Sequence) -> tuple[list, list, list]:
        """Outer inputs after n_steps -> (sequences, histories, non-sequences)."""
        ns, nc = self.n_seqs, self.n_carries
        return list(xs[:ns]), list(xs[ns:ns + nc]), list(xs[ns + nc:])

    def __str__(self) -> str:
        extra = ", until" if self.as_while else ""
        return (f"Scan{{{self.name or 'scan_fn'}, seqs={self.n_seqs}, taps={list(map(list, self.carry_taps))}, "
                f"nit={self.n_nit}, non_seqs={self.n_non_seqs}{extra}}}")

    __repr__ = __str__

    # -- type rule
    def make_node(self, n_steps, *args) -> Apply:
        name = f"scan {self.name!r}" if self.name else "scan"
        want = self.n_seqs + self.n_carries + self.n_non_seqs
        if len(args) != want:
            raise TypeError(f"{name}: expected n_steps and {want} inputs, got {len(args)}")
        n = n_steps if isinstance(n_steps, Variable) else as_int64(int(n_steps))
        if n.ndim != 0 or n.dtype not in dtypes.INTS:
            raise TypeError(f"{name}: n_steps must be an integer scalar, got {n.type!r}")
        n = as_int64(n)
        args = [as_variable(a) for a in args]
        ins, outs = self.fgraph.inputs, self.fgraph.outputs
        seqs, hists, nons = self._split(args)

        def check(what: str, outer: Variable, inner: TensorType, lead: int) -> None:
            if outer.dtype != inner.dtype or outer.ndim != inner.ndim + lead or not _compatible(
                    outer.type.shape[lead:], inner.shape):
                rows = "rows of " if lead else ""
                raise TypeError(f"{name}: {what} has type {outer.type!r}; the inner graph expects {rows}{inner!r}")

        for i, s in enumerate(seqs):
            check(f"sequence {i}", s, ins[i].type, 1)
        for c, h in enumerate(hists):
            L = self.history(c)
            for slot in self.tap_slots(c):
                check(f"initial history of carried output {c}", h, ins[slot].type, 1)
            if h.type.shape[0] is not None and h.type.shape[0] != L:
                raise ValueError(f"{name}: carried output {c} (taps {list(self.carry_taps[c])}) needs an initial "
                                 f"history of {L} rows, got static shape {h.type.shape}")
        for j, v in enumerate(nons):
            check(f"non-sequence {j}", v, ins[self.n_seqs + self.n_taps + j].type, 0)
        steps = None if self.as_while else static_int(n)
        steps = None if steps == 1 else steps  # the time axis is never broadcastable (Theano)
        out_types = []
        for c in range(self.n_carries):
            state, new = ins[self.tap_slots(c)[0]].type, outs[c].type
            if new.dtype != state.dtype or new.ndim != state.ndim or not _compatible(new.shape, state.shape):
                raise TypeError(f"{name}: carried output {c}: the step function returns {new!r} for a state of type "
                                f"{state!r} (its initial value); dtype and shape must stay the same")
            merged = tuple(a if a is not None else b for a, b in zip(state.shape, new.shape))
            out_types.append(TensorType(state.dtype, shape=merged if self.keep_last[c] else (steps, *merged)))
        for j in range(self.n_nit):
            t = outs[self.n_carries + j].type
            out_types.append(TensorType(t.dtype, shape=(steps, *t.shape)))
        if self.as_while:
            cond = outs[-1]
            if cond.ndim != 0 or cond.dtype != "bool":
                raise TypeError(f"{name}: the until condition must be a 0-d bool, got {cond.type!r}")
        if not out_types:
            raise TypeError(f"{name}: a loop needs at least one output")
        return Apply(self, [n, *args], out_types)

    # -- numpy reference
    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        name = f"scan {self.name!r}" if self.name else "scan"
        n = int(inputs[0])
        if n < 0:
            raise ValueError(f"{name}: n_steps must be >= 0, got {n}")
        seqs, hists, nons = self._split(inputs[1:])
        ins, outs = self.fgraph.inputs, self.fgraph.outputs
        for i, s in enumerate(seqs):
            if s.shape[0] < n:
                raise ValueError(f"{name}: sequence {i} has {s.shape[0]} rows, fewer than the {n} steps to run")
            _check_shape(name, f"rows of sequence {i}", s.shape[1:], ins[i].type.shape)
        bufs = []
        for c, h in enumerate(hists):
            L = self.history(c)
            if h.shape[0] != L:
                raise ValueError(f"{name}: carried output {c} needs {L} initial rows, got shape {h.shape}")
            _check_shape(name, f"state of carried output {c}", h.shape[1:], ins[self.tap_slots(c)[0]].type.shape)
            buf = np.empty((L + n, *h.shape[1:]), dtype=node.outputs[c].dtype)
            buf[:L] = h
            bufs.append(buf)
        base = self.n_seqs + self.n_taps
        for j, v in enumerate(nons):
            _check_shape(name, f"non-sequence {j}", v.shape, ins[base + j].type.shape)
        values = {ins[base + j]: v for j, v in enumerate(nons)}
        nits: list[np.ndarray | None] = [None] * self.n_nit
        ran = n
        for t in range(n):
            for i, s in enumerate(seqs):
                values[ins[i]] = s[t]
            for c, buf in enumerate(bufs):
                L = self.history(c)
                for slot, k in zip(self.tap_slots(c), self.carry_taps[c]):
                    values[ins[slot]] = buf[L + t + k]
            try:
                res = evaluate(outs, values, self._order)
            except Exception as exc:
                exc.add_note(f"(in {name}, step {t})")
                raise
            for c, buf in enumerate(bufs):
                if res[c].shape != buf.shape[1:]:
                    raise ValueError(f"{name}: step {t}: carried output {c} has shape {res[c].shape}, its state "
                                     f"has shape {buf.shape[1:]}; a carried state must keep its shape")
                buf[self.history(c) + t] = res[c]
            for j in range(self.n_nit):
                r = res[self.n_carries + j]
                if nits[j] is None:
                    nits[j] = np.empty((n, *r.shape), dtype=node.outputs[self.n_carries + j].dtype)
                elif r.shape != nits[j].shape[1:]:
                    raise ValueError(f"{name}: step {t}: output {j} has shape {r.shape}, earlier steps gave "
                                     f"{nits[j].shape[1:]}; per-step outputs must keep their shape")
                nits[j][t] = r
            if self.as_while and bool(res[-1]):
                ran = t + 1
                break
        results = [buf[self.history(c) + ran - 1].copy() if self.keep_last[c]
                   else buf[self.history(c):self.history(c) + ran].copy() for c, buf in enumerate(bufs)]
        for j, arr in enumerate(nits):
            if arr is None:  # no step ran: unknown lengths are 0
                t = node.outputs[self.n_carries + j].type
                arr = np.zeros((0, *[0 if s is None else s for s in t.shape[1:]]), dtype=t.dtype)
            results.append(arr[:ran])
        return results

    def infer_shape(self, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        if self.as_while:
            raise NotImplementedError("scan with until: the number of steps is known only after running")
        n = node.inputs[0]
        ins = self.fgraph.inputs
        known: dict[int, tuple] = {}
        seq_sh, hist_sh, non_sh = self._split(input_shapes[1:])
        for i, sh in enumerate(seq_sh):
            known[id(ins[i])] = tuple(sh[1:])
        for c, sh in enumerate(hist_sh):
            for slot in self.tap_slots(c):
                known[id(ins[slot])] = tuple(sh[1:])
        for j, sh in enumerate(non_sh):
            known[id(ins[self.n_seqs + self.n_taps + j])] = tuple(sh)
        res = [tuple(hist_sh[c][1:]) if self.keep_last[c] else (n, *hist_sh[c][1:])
               for c in range(self.n_carries)]
        for j in range(self.n_nit):
            res.append((n, *_inner_shape(self.fgraph.outputs[self.n_carries + j], known, ins)))
        return [tuple(as_int64(d) for d in shp) for shp in res]

    # -- differentiation
    def _deps(self) -> list[int]:
        """Per inner output, a bitmask of the inner inputs it depends on differentiably."""
        if self._dep is None:
            masks = {id(v): 1 << i for i, v in enumerate(self.fgraph.inputs)}
            for nd in self._order:
                pattern = nd.op.connection_pattern(nd)
                for j, o in enumerate(nd.outputs):
                    m = 0
                    for i, v in enumerate(nd.inputs):
                        if pattern[i][j]:
                            m |= masks.get(id(v), 0)
                    masks[id(o)] = m
            self._dep = [masks.get(id(o), 0) for o in self.fgraph.outputs]
        return self._dep

    def _carry_mask(self, c: int) -> int:
        return sum(1 << s for s in self.tap_slots(c))

    def _closure(self, mask: int) -> set[int]:
        """Inputs in `mask` reach which outputs, following carries around the loop."""
        dep = self._deps()
        n_out = self.n_carries + self.n_nit
        while True:
            reached = {j for j in range(n_out) if dep[j] & mask}
            grown = mask
            for c in reached:
                if c < self.n_carries:
                    grown |= self._carry_mask(c)
            if grown == mask:
                return reached
            mask = grown

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        n_out = len(node.outputs)
        pattern = [[False] * n_out]
        base = self.n_seqs + self.n_taps
        starts = ([1 << i for i in range(self.n_seqs)] + [self._carry_mask(c) for c in range(self.n_carries)]
                  + [1 << (base + j) for j in range(self.n_non_seqs)])
        for m in starts:
            reached = self._closure(m)
            pattern.append([j in reached for j in range(n_out)])
        return pattern

    def _n_run(self, node: Apply) -> Variable:
        """The number of steps that actually ran."""
        return builder("shape_i")(node.outputs[0], 0) if self.as_while else node.inputs[0]

    def _fresh(self, slot: int) -> Variable:
        v = self.fgraph.inputs[slot]
        return v.type(v.name)

    def _tap_values(self, node: Apply, c: int) -> list[tuple[Variable, int]]:
        """(full history of carry c: initial rows then outputs, offset of each tap's row for step 0)."""
        full = builder("join")(0, node.inputs[1 + self.n_seqs + c], node.outputs[c])
        return [(full, self.history(c) + k) for k in self.carry_taps[c]]

    def vjp(self, node: Apply, cotangents: list) -> list:
        """Back-propagation through time, as another Scan running backwards over the per-step
        values the forward loop stored.  Carry c's adjoint travels as a window of L_c pending sums
        (the adjoints of the states at times t-1 .. t-L_c); non-sequence gradients are running
        sums; sequence gradients are per-step outputs.  Only the steps that ran (`until`), and only
        the last truncate_gradient of them, are differentiated."""
        self._differentiable()
        from ccgrad.gradient import Lop

        ns, nc, base = self.n_seqs, self.n_carries, self.n_seqs + self.n_taps
        ins, outs = self.fgraph.inputs, self.fgraph.outputs
        S, H0, N = self._split(node.inputs[1:])
        g_h, g_y = cotangents[:nc], cotangents[nc:]
        dep = self._deps()
        seeds = [nc + j for j, g in enumerate(g_y) if g is not None and _is_float(outs[nc + j])]
        live = {c for c, g in enumerate(g_h) if g is not None and _is_float(outs[c])}
        while True:
            mask = 0
            for j in seeds + sorted(live):
                mask |= dep[j]
            grown = live | {c for c in range(nc) if _is_float(outs[c]) and mask & self._carry_mask(c)}
            if grown == live:
                break
            live = grown
        live_l = sorted(live)
        if not live_l and not seeds:
            return [None] * len(node.inputs)
        n_run = self._n_run(node)
        trunc = self.truncate_gradient >= 0
        m = as_int64(sym_min(n_run, self.truncate_gradient)) if trunc else n_run

        def window(x: Variable, off: int = 0) -> Variable:
            """x[off + t] for the differentiated forward steps t, last step first."""
            stop = sym_add(off, n_run)
            return x[(sym_sub(stop, m) if trunc else off or None):stop][::-1]

        seqs, non_seqs, repl = [], [], {}
        for i in range(ns):
            repl[ins[i]] = self._fresh(i)
            seqs.append((window(S[i]), repl[ins[i]]))
        for c in range(nc):
            for slot, (full, off) in zip(self.tap_slots(c), self._tap_values(node, c)):
                repl[ins[slot]] = self._fresh(slot)
                seqs.append((window(full, off), repl[ins[slot]]))
        for j in range(self.n_non_seqs):
            repl[ins[base + j]] = self._fresh(base + j)
            non_seqs.append((N[j], repl[ins[base + j]]))
        cloned = clone_replace(outs[:nc + self.n_nit], repl)
        f_list, e_list, pending = [], [], {}
        for c in live_l:
            state = ins[self.tap_slots(c)[0]].type
            pending[c] = [state(f"pending{c}[t-{j + 1}]") for j in range(self.history(c))]
            adj = pending[c][0]
            if g_h[c] is not None:
                p = _row(g_h[c])("adjoint")
                seqs.append((window(g_h[c]), p))
                adj = p + adj
            f_list.append(cloned[c])
            e_list.append(adj)
        for j in seeds:
            p = _row(g_y[j - nc])("cotangent")
            seqs.append((window(g_y[j - nc]), p))
            f_list.append(cloned[j])
            e_list.append(p)
        wrt = [s for s in range(len(ins)) if mask >> s & 1 and _is_float(ins[s])]
        grads = dict(zip(wrt, Lop(f_list, [repl[ins[s]] for s in wrt], e_list, disconnected_inputs="ignore"))
                     ) if wrt else {}
        carries = []
        for c in live_l:
            L, window_c = self.history(c), pending[c]
            zero = builder("zeros_like")(H0[c][:1])
            contrib = {k: grads.get(s) for s, k in zip(self.tap_slots(c), self.carry_taps[c])}
            for j in range(1, L + 1):
                parts = [x for x in ((window_c[j] if j < L else None), contrib.get(-j)) if x is not None]
                new = (parts[0] + parts[1] if len(parts) == 2 else parts[0] if parts
                       else builder("zeros_like")(window_c[j - 1]))
                carries.append((zero, (-1,), [window_c[j - 1]], new))
        acc = [j for j in range(self.n_non_seqs) if base + j in grads]
        for j in acc:
            total = self._fresh(base + j)
            carries.append((_lead(builder("zeros_like")(N[j])), (-1,), [total], total + grads[base + j]))
        seq_g = [i for i in range(ns) if i in grads]
        bw = build_scan(m, seqs, carries, [grads[i] for i in seq_g], non_seqs, None, -1,
                        f"grad_of_{self.name or 'scan_fn'}", prune_seqs=True)
        res: list = [None] * len(node.inputs)
        k = 0
        for c in live_l:
            L = self.history(c)
            finals = [_last(carries[k + j][0], bw[k + j]) for j in range(L)]  # times -1 .. -L
            g = builder("stack")(finals[::-1])
            if trunc:
                g = builder("switch")(builder("eq")(m, n_run), g, builder("zeros_like")(g))
            res[1 + ns + c] = g
            k += L
        for j in acc:
            res[1 + ns + nc + j] = _last(carries[k][0], bw[k])
            k += 1
        for idx, i in enumerate(seq_g):
            g = bw[len(carries) + idx][::-1]
            if trunc or not (S[i].type.shape[0] is not None and S[i].type.shape[0] == static_int(n_run)):
                start = sym_sub(n_run, m) if trunc else None
                g = builder("set_subtensor")(builder("zeros_like")(S[i])[start:n_run], g)
            res[1 + i] = g
        return res

    def jvp(self, node: Apply, tangents: list) -> list:
        """Forward mode: a Scan of the inner jvp over the stored per-step values, carrying the
        tangents of the carried states."""
        self._differentiable()
        from ccgrad.gradient import forward

        ns, nc, base = self.n_seqs, self.n_carries, self.n_seqs + self.n_taps
        ins, outs = self.fgraph.inputs, self.fgraph.outputs
        S, H0, N = self._split(node.inputs[1:])
        tS, tI, tN = self._split(tangents[1:])
        dep = self._deps()
        mask = sum(1 << i for i, t in enumerate(tS) if t is not None and _is_float(ins[i]))
        mask |= sum(1 << (base + j) for j, t in enumerate(tN) if t is not None and _is_float(ins[base + j]))
        live = {c for c, t in enumerate(tI) if t is not None and _is_float(outs[c])}
        while True:
            full = mask | sum(self._carry_mask(c) for c in live)
            grown = live | {c for c in range(nc) if _is_float(outs[c]) and dep[c] & full}
            if grown == live:
                break
            live = grown
        live_l = sorted(live)
        nit_t = [j for j in range(self.n_nit) if _is_float(outs[nc + j]) and dep[nc + j] & full]
        if not live_l and not nit_t:
            return [None] * len(node.outputs)
        n_run = self._n_run(node)
        seqs, non_seqs, repl, tan = [], [], {}, {}
        for i in range(ns):
            repl[ins[i]] = self._fresh(i)
            seqs.append((S[i], repl[ins[i]]))
            if full >> i & 1:
                tan[id(repl[ins[i]])] = self._fresh(i)
                seqs.append((tS[i], tan[id(repl[ins[i]])]))
        for c in range(nc):
            for slot, (hist, off) in zip(self.tap_slots(c), self._tap_values(node, c)):
                repl[ins[slot]] = self._fresh(slot)
                seqs.append((hist[off:sym_add(off, n_run)], repl[ins[slot]]))
        for j in range(self.n_non_seqs):
            p = repl[ins[base + j]] = self._fresh(base + j)
            non_seqs.append((N[j], p))
            if full >> (base + j) & 1:
                tan[id(p)] = self._fresh(base + j)
                non_seqs.append((tN[j], tan[id(p)]))
        carries = []
        for c in live_l:
            phs = [self._fresh(s) for s in self.tap_slots(c)]
            for s, ph in zip(self.tap_slots(c), phs):
                tan[id(repl[ins[s]])] = ph
            init = tI[c] if tI[c] is not None else builder("zeros_like")(H0[c])
            carries.append([init, self.carry_taps[c], phs, None])
        cloned = clone_replace(outs[:nc + self.n_nit], repl)
        got = forward(cloned, tan, stop=list(repl.values()))

        def tangent(v: Variable) -> Variable:
            t = got.get(id(v))
            return builder("zeros_like")(v) if t is None else t

        for entry, c in zip(carries, live_l):
            entry[3] = tangent(cloned[c])
        res = build_scan(n_run, seqs, [tuple(e) for e in carries], [tangent(cloned[nc + j]) for j in nit_t],
                         non_seqs, None, -1, f"jvp_of_{self.name or 'scan_fn'}", prune_seqs=True)
        out: list = [None] * len(node.outputs)
        for k, c in enumerate(live_l + [nc + j for j in nit_t]):
            out[c] = res[k]
        return out

    def batch(self, node: Apply, inputs: list[Variable], batched: list[bool]):
        """The loop over a batch: batched sequences and histories get their batch axis moved
        behind the time axis, the inner graph is batched op by op (a carry becomes batched when
        its new state is), and batched outputs get the batch axis back in front."""
        self._differentiable()
        if batched[0]:
            raise NotImplementedError("scan batch rule: the number of steps cannot vary over the batch")
        if not any(batched):
            return list(self.make_node(*inputs).outputs), [False] * len(node.outputs)
        ns, nc, base = self.n_seqs, self.n_carries, self.n_seqs + self.n_taps
        ins = self.fgraph.inputs
        first = inputs[batched.index(True)]
        nb, nb_static = builder("shape_i")(first, 0), first.type.shape[0]
        S, H0, N = self._split(inputs[1:])
        bS, bH, bN = self._split(batched[1:])
        carry_b = list(bH)
        while True:
            flags = list(bS) + [carry_b[c] for c in range(nc) for _ in self.carry_taps[c]] + list(bN)
            phs = [TensorType(v.dtype, shape=(nb_static, *v.type.shape))(v.name) if f else v.type(v.name)
                   for v, f in zip(ins, flags)]
            new_outs, out_b = _batch_graph(self.fgraph, phs, flags)
            grow = [c for c in range(nc) if out_b[c] and not carry_b[c]]
            if not grow:
                break
            for c in grow:
                carry_b[c] = True
        if self.as_while and out_b[-1]:
            raise NotImplementedError("scan batch rule: an until condition that differs across the batch would stop "
                                      "the loop at different steps; batch such loops with a Python loop")
        carries = []
        for c in range(nc):
            hist = _swap01(H0[c]) if bH[c] else (_insert_axis(H0[c], 1, nb) if carry_b[c] else H0[c])
            new = new_outs[c]
            if carry_b[c] and not out_b[c]:
                new = _insert_axis(new, 0, nb)
            carries.append((hist, self.carry_taps[c], [phs[s] for s in self.tap_slots(c)], new))
        res = build_scan(inputs[0], [(_swap01(S[i]) if bS[i] else S[i], phs[i]) for i in range(ns)], carries,
                         new_outs[nc:nc + self.n_nit], [(N[j], phs[base + j]) for j in range(self.n_non_seqs)],
                         new_outs[-1] if self.as_while else None, self.truncate_gradient, self.name)
        flags_out = carry_b + list(out_b[nc:nc + self.n_nit])
        return [_swap01(r) if f else r for r, f in zip(res, flags_out)], flags_out

    def c_code(self, ctx, node: Apply, ins: list):
        """A C for loop in the same function, the inner graph emitted inline (ccgrad.lower.scan)."""
        from ccgrad.lower.scan import emit_scan

        return emit_scan(ctx, node, ins)

    def pp(self, node: Apply, args: list[str]) -> str:
        return f"scan{{{self.name or 'scan_fn'}}}({', '.join(args)})"


def _is_float(v: Variable) -> bool:
    return v.dtype in dtypes.FLOATS


def _swap01(x: Variable) -> Variable:
    return builder("dimshuffle")(x, (1, 0, *range(2, x.ndim)))


def _insert_axis(x: Variable, axis: int, n) -> Variable:
    """x with a new axis of length n at `axis`, the values repeated along it."""
    order: list = list(range(x.ndim))
    order.insert(axis, "x")
    dims: list = [s if s is not None else builder("shape_i")(x, i) for i, s in enumerate(x.type.shape)]
    dims.insert(axis, n)
    return builder("alloc")(builder("dimshuffle")(x, tuple(order)), *dims)


def _batch_graph(fgraph: FunctionGraph, new_inputs: list[Variable], flags: list[bool]
                 ) -> tuple[list[Variable], list[bool]]:
    """fgraph's outputs recomputed from new_inputs, where flagged inputs carry a leading batch
    axis: each node goes through its op's batch rule when some operand is batched."""
    memo = {id(v): (n, f) for v, n, f in zip(fgraph.inputs, new_inputs, flags)}
    for nd in fgraph.toposort():
        args = [memo.get(id(v), (v, False)) for v in nd.inputs]
        xs, fs = [a for a, _ in args], [f for _, f in args]
        if any(fs):
            outs, ofs = nd.op.batch(nd, xs, fs)
        else:
            outs = nd.outputs if all(a is b for a, b in zip(xs, nd.inputs)) else nd.op.make_node(*xs).outputs
            ofs = [False] * len(outs)
        for o, n, f in zip(nd.outputs, outs, ofs):
            memo[id(o)] = (n, f)
    res = [memo.get(id(o), (o, False)) for o in fgraph.outputs]
    return [r for r, _ in res], [f for _, f in res]


def _check_shape(name: str, what: str, got: tuple, static: tuple) -> None:
    if len(got) != len(static) or any(s is not None and s != g for s, g in zip(static, got)):
        raise ValueError(f"{name}: {what} has shape {got}; the inner graph was built for static shape {static}")


def _inner_shape(var: Variable, known: dict[int, tuple], inner_inputs: Sequence[Variable]) -> tuple:
    """var's shape in terms of the outer inputs' shapes (NotImplementedError when it depends on
    inner values)."""
    if None not in var.type.shape:
        return tuple(var.type.shape)
    shapes = dict(known)
    for nd in toposort([var], stop=inner_inputs):
        in_sh = []
        for v in nd.inputs:
            if id(v) not in shapes:
                if not isinstance(v, Constant):
                    raise NotImplementedError(f"scan: no shape for inner variable {v}")
                shapes[id(v)] = tuple(v.data.shape)
            in_sh.append(shapes[id(v)])
        for o, sh in zip(nd.outputs, nd.op.infer_shape(nd, in_sh)):
            shapes[id(o)] = tuple(s if t is None else t for s, t in zip(sh, o.type.shape))
    if isinstance(var, Constant):
        return tuple(var.data.shape)
    res = shapes[id(var)]
    inner = {id(v) for v in inner_inputs}
    dims = [d for d in res if isinstance(d, Variable)]
    for nd in toposort(dims):
        if any(id(v) in inner for v in nd.inputs):
            raise NotImplementedError("scan: a per-step output's shape depends on values computed in the loop")
    if any(id(d) in inner for d in dims):
        raise NotImplementedError("scan: a per-step output's shape depends on values computed in the loop")
    return res


# ---------------------------------------------------------------------------------------------
# The constructor


def build_scan(n_steps, seqs: Sequence[tuple[Variable, Variable]] = (),
               carries: Sequence[tuple[Variable, Sequence[int], Sequence[Variable], Variable]] = (),
               nits: Sequence[Variable] = (), non_seqs: Sequence[tuple[Variable, Variable]] = (),
               cond: Variable | None = None, truncate_gradient: int = -1, name: str | None = None,
               prune_seqs: bool = False) -> list[Variable]:
    """Make one Scan node and return its outputs (carries, then per-step outputs).

    seqs: (outer sequence, inner row placeholder); carries: (outer history of L rows, taps,
    inner placeholder per tap, inner new state); nits: inner per-step outputs; non_seqs: (outer
    value, inner placeholder).  The inner outputs may use any outer variable directly: every
    loop-invariant value the loop needs (an outer variable, or an expression of outer variables
    and non-sequence placeholders) becomes a non-sequence of the node, so the node's inputs list
    everything it depends on and the inner graph has no free variables.  `prune_seqs` drops
    sequences the inner graph does not read (only for internal loops with an explicit n_steps).
    """
    seqs, carries, non_seqs = list(seqs), list(carries), list(non_seqs)
    inner_outs = [as_variable(c[3]) for c in carries] + [as_variable(y) for y in nits]
    if cond is not None:
        inner_outs.append(cond)
    variant = {id(p) for _, p in seqs} | {id(p) for c in carries for p in c[2]}
    ns_outer = {id(p): o for o, p in non_seqs}
    uses_ns = set(ns_outer)
    order = toposort(inner_outs)
    for nd in order:
        if any(id(v) in variant for v in nd.inputs):
            variant.update(id(o) for o in nd.outputs)
        elif any(id(v) in uses_ns for v in nd.inputs):
            uses_ns.update(id(o) for o in nd.outputs)
    frontier: dict[int, Variable] = {}

    def lift(v: Variable) -> None:
        if id(v) not in variant and not isinstance(v, Constant):
            frontier.setdefault(id(v), v)

    for nd in order:
        if any(id(v) in variant for v in nd.inputs):
            for v in nd.inputs:
                lift(v)
    for v in inner_outs:
        lift(v)
    # Each lifted value in outer terms (non-sequence placeholders replaced by their outer value).
    front = list(frontier.values())
    need = [v for v in front if id(v) in uses_ns and id(v) not in ns_outer]
    back = dict(zip(map(id, need), clone_replace(need, {p: o for o, p in non_seqs}))) if need else {}
    lifted: list[tuple[Variable, Variable]] = []
    by_outer: dict[tuple[int, TensorType], Variable] = {}
    repl: dict[Variable, Variable] = {}
    for v in front:
        outer = ns_outer[id(v)] if id(v) in ns_outer else back.get(id(v), v)
        key = (id(outer), v.type)
        if key not in by_outer:
            by_outer[key] = v.type(v.name if v.owner is None else None)
            lifted.append((outer, by_outer[key]))
        repl[v] = by_outer[key]
    new_outs = clone_replace(inner_outs, repl) if repl else inner_outs
    if prune_seqs:
        used = {id(v) for nd in toposort(new_outs) for v in nd.inputs} | {id(v) for v in new_outs}
        seqs = [(o, p) for o, p in seqs if id(p) in used]
    inputs = [p for _, p in seqs] + [p for c in carries for p in c[2]] + [p for _, p in lifted]
    fg = FunctionGraph(inputs, new_outs)
    op = Scan(fg, len(seqs), [tuple(c[1]) for c in carries], len(nits), cond is not None, truncate_gradient, name)
    node = op.make_node(n_steps, *[o for o, _ in seqs], *[c[0] for c in carries], *[o for o, _ in lifted])
    return list(node.outputs)


def __getattr__(name: str):
    """scan(), until and OrderedUpdates (Theano's user API) live in ccgrad.scan_module."""
    if name in ("scan", "until", "OrderedUpdates"):
        import ccgrad.scan_module

        return getattr(ccgrad.scan_module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
