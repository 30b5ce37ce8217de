"""Lowering: an optimized FunctionGraph -> one self-contained C source (CProgram).

The source pastes the runtime header and the ABI declarations, then defines `ccg_run`, so it
compiles alone and its hash covers everything the module will do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

import numpy as np

from ccgrad import _paths
from ccgrad.graph import FunctionGraph
from ccgrad.lower.cnodes import Block, Function, Line, render
from ccgrad.lower.emit import Emitter, LoweringError

__all__ = ["CProgram", "LoweringError", "lower", "runtime_text", "abi_cdef"]


@dataclasses.dataclass
class CProgram:
    """What lowering produces: the complete C source and the facts the caller needs."""

    source: str
    inputs: list[tuple[str, int]]  # (dtype, ndim) of each explicit input, then hidden ones
    outputs: list[tuple[str, int]]
    hidden: list[np.ndarray]  # large constants appended to the inputs at call time
    features: tuple[str, ...] = ()  # e.g. ("blas",): what the build must link

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()


_RUNTIME: str | None = None
# Kernels calling ccgrad's own exp / tanh (csrc/ccgrad_vmath.h) get them compiled in.
_WANTS = (("CCG_WANT_EXP", re.compile(r"\bccg_(?:exp|exp_v8|sigmoid_f64|sigmoid_v8|softplus_f64)\(")),
          ("CCG_WANT_TANH", re.compile(r"\bccg_tanh(?:_v8)?\(")))
_CDEF: str | None = None


def runtime_text() -> str:
    """The ABI declarations, ccgrad_rt.h and ccgrad_vmath.h, as pasted at the top of every source."""
    global _RUNTIME
    if _RUNTIME is None:
        abi, rt, vmath = (_paths.read_csrc(f"ccgrad_{n}.h") for n in ("abi", "rt", "vmath"))
        _RUNTIME = "#ifndef _GNU_SOURCE\n#define _GNU_SOURCE\n#endif\n" + abi + "\n" + rt + "\n" + vmath + "\n"
    return _RUNTIME


def abi_cdef() -> str:
    """The declarations cffi needs (the CDEF section of ccgrad_abi.h)."""
    global _CDEF
    if _CDEF is None:
        abi = _paths.read_csrc("ccgrad_abi.h")
        start = abi.index("/* CDEF-BEGIN */") + len("/* CDEF-BEGIN */")
        _CDEF = abi[start:abi.index("/* CDEF-END */")].strip() + "\n"
    return _CDEF


def lower(fgraph: FunctionGraph, donate: dict[int, int] | None = None) -> CProgram:
    """Generate the C source computing `fgraph`'s outputs from its inputs.

    donate: output j -> input k when the caller offers input k's buffer for output j (updates
    of shared variables computed in place where the graph allows).
    """
    ctx = Emitter(fgraph, donate)
    ctx.unpack_inputs()
    ctx.emit_nodes()
    ctx.emit_outputs()
    n_out = len(fgraph.outputs)
    body = Block()
    body.add(f"unsigned char out_owned[{max(1, n_out)}] = {{0}};")
    body.add("(void)out_owned;")
    body.body.extend(ctx.decls.body)
    body.body.extend(ctx.body.body)
    for s in ctx.slots:
        body.add(f"ccg_work_release({s});")
    body.add("return 0;")
    body.add(Line("fail:"))
    for s in ctx.slots:
        body.add(f"ccg_work_release({s});")
    body.add(f"for (int j = 0; j < {n_out}; j++) {{")
    body.add("    if (out_owned[j]) { free(outputs[j].data); outputs[j].data = NULL; }")
    body.add("}")
    body.add("return err->code;")
    fn = Function("int ccg_run(const ccg_in *inputs, ccg_out *outputs, ccg_err *err)", body)
    defs = [Line(text) for _, text in sorted(ctx._extra_defs.items())]
    free_fn = Line("void ccg_free(void *p) { free(p); }")
    kernel = render([*defs, free_fn, fn])
    # ccgrad's own vector exp and tanh cost ~15 ms of -O3 compile each: only their callers get them.
    wants = "".join(f"#define {flag} 1\n" for flag, calls in _WANTS if calls.search(kernel))
    source = wants + runtime_text() + "\n/* ---- generated kernel ---- */\n" + kernel
    inputs = [(v.dtype, v.ndim) for v in fgraph.inputs] + [(h.dtype.name, h.ndim) for h in ctx.hidden]
    outputs = [(v.dtype, v.ndim) for v in fgraph.outputs]
    return CProgram(source, inputs, outputs, list(ctx.hidden), tuple(sorted(ctx.features)))
