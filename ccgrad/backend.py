"""The C backend: optimized FunctionGraph -> lowered source -> cached module -> Kernel.

A Kernel (ccgrad._dispatch) is the call path: it checks arguments in C and calls the module's
ccg_run through its address.  Arguments that are not already aligned ndarrays of the right
dtype and ndim go through `TensorType.filter`, so conversion rules and their error messages
live in one place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ccgrad.graph import FunctionGraph, Variable

ERRORS = {1: ValueError, 2: IndexError, 3: ValueError, 4: MemoryError, 5: RuntimeError}


def arg_names(inputs: Sequence[Variable]) -> list[str]:
    return [v.name or f"input {i}" for i, v in enumerate(inputs)]


def make_converter(inputs: Sequence[Variable], names: list[str], allow_downcast: bool | None):
    """convert(i, value) -> an aligned ndarray of input i's dtype and ndim, or a clear error."""
    types = [v.type for v in inputs]

    def convert(i: int, value) -> np.ndarray:
        arr = types[i].filter(value, name=names[i], allow_downcast=allow_downcast)
        if type(arr) is not np.ndarray:
            arr = np.asarray(arr)
        if not arr.flags.aligned or not arr.dtype.isnative:
            arr = np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C")
        return arr

    return convert


def make_error_handler(names: list[str]):
    """on_error(code, arg, axis, expected, got, msg): raise the Python exception for a kernel
    error, with {in:K} placeholders replaced by argument names."""

    def on_error(code: int, arg: int, axis: int, expected: int, got: int, msg: str) -> None:
        text = re.sub(r"\{in:(\d+)\}", lambda m: _name(names, int(m.group(1))), msg)
        raise ERRORS.get(code, RuntimeError)(text)

    return on_error


def _name(names: list[str], k: int) -> str:
    return f"'{names[k]}'" if k < len(names) else f"hidden input {k - len(names)}"


def numpy_typenum(dtype: str) -> int:
    return np.dtype(dtype).num


class CompiledKernel:
    """What building a FunctionGraph gives: the loaded module and the Kernel constructor args."""

    def __init__(self, fgraph: FunctionGraph, program, loaded):
        self.fgraph = fgraph
        self.program = program
        self.loaded = loaded

    def kernel_args(self, names: list[str], allow_downcast: bool | None, single: bool,
                    n_args: int | None = None) -> dict:
        prog = self.program
        n_explicit = len(self.fgraph.inputs)
        return dict(
            address=self.loaded.address,
            in_types=[numpy_typenum(d) for d, _ in prog.inputs],
            in_ndims=[n for _, n in prog.inputs],
            out_types=[numpy_typenum(d) for d, _ in prog.outputs],
            out_ndims=[n for _, n in prog.outputs],
            n_args=n_explicit if n_args is None else n_args,
            extra=tuple(np.ascontiguousarray(h) for h in prog.hidden),
            convert=make_converter(self.fgraph.inputs, names, allow_downcast),
            on_error=make_error_handler(names),
            keep=self.loaded.module,
            single=single,
        )


    def runner(self):
        """run(values) -> outputs for Python wrappers (values already converted)."""
        from ccgrad._dispatch import Kernel

        names = arg_names(self.fgraph.inputs)
        k = Kernel(**self.kernel_args(names, None, False))
        return k.run


def build(fgraph: FunctionGraph, name: str | None = None) -> CompiledKernel:
    """Lower and build (or load from the cache) the module computing `fgraph`."""
    from ccgrad import cache
    from ccgrad.lower import lower

    program = lower(fgraph)
    loaded = cache.get_or_build(program.source, program.features, name=name)
    return CompiledKernel(fgraph, program, loaded)
