"""Supported dtypes: numpy <-> C names, promotion (numpy rules), C literal printing."""

from __future__ import annotations

import math

import numpy as np

# dtype name -> C type used in generated code.  bool is one byte holding 0 or 1.
C_TYPES: dict[str, str] = {
    "bool": "uint8_t",
    "int8": "int8_t",
    "int16": "int16_t",
    "int32": "int32_t",
    "int64": "int64_t",
    "uint8": "uint8_t",
    "float32": "float",
    "float64": "double",
}
SUPPORTED = tuple(C_TYPES)
FLOATS = ("float32", "float64")
INTS = ("int8", "int16", "int32", "int64", "uint8")
DISCRETE = ("bool",) + INTS

_ALIASES = {
    "floatX": None,  # resolved through config at call time
    "float": "float64",
    "int": "int64",
    "double": "float64",
    "single": "float32",
}


def canonical(dtype) -> str:
    """Return the canonical name of a supported dtype, or raise TypeError naming it."""
    if isinstance(dtype, str) and dtype in C_TYPES:
        return dtype
    if isinstance(dtype, str) and dtype == "floatX":
        from ccgrad.options import config

        return config.floatX
    if isinstance(dtype, str) and dtype in _ALIASES:
        return _ALIASES[dtype]
    try:
        name = np.dtype(dtype).name
    except TypeError as exc:
        raise TypeError(f"unknown dtype {dtype!r}; supported: {', '.join(SUPPORTED)}") from exc
    if name not in C_TYPES:
        raise TypeError(f"unsupported dtype {name!r}; supported: {', '.join(SUPPORTED)}")
    return name


def is_float(dtype: str) -> bool:
    return dtype in FLOATS


def is_int(dtype: str) -> bool:
    return dtype in INTS


def kind_rank(dtype: str) -> int:
    """0 bool, 1 integer, 2 float: the order in which Python scalars promote."""
    return 2 if dtype in FLOATS else (0 if dtype == "bool" else 1)


def upcast(*dtypes: str) -> str:
    """numpy's promotion of array dtypes, restricted to the supported set."""
    name = np.result_type(*[np.dtype(d) for d in dtypes]).name
    if name not in C_TYPES:  # e.g. int64 + uint64 never arises; float16 never arises
        raise TypeError(f"promotion of {dtypes} gives unsupported dtype {name}")
    return name


def upcast_to_float(dtype: str) -> str:
    """The float dtype a transcendental op returns for this input (Theano's rule)."""
    if dtype in FLOATS:
        return dtype
    if dtype in ("bool", "int8", "uint8", "int16"):
        return "float32"
    return "float64"


def smallest_int_dtype(value: int) -> str:
    for name in ("int8", "int16", "int32", "int64"):
        info = np.iinfo(name)
        if info.min <= value <= info.max:
            return name
    raise OverflowError(f"integer constant {value} does not fit in int64")


def c_type(dtype: str) -> str:
    return C_TYPES[dtype]


def c_literal(value, dtype: str) -> str:
    """A C literal that reproduces `value` exactly in `dtype`."""
    if dtype in FLOATS:
        v = float(value)
        suffix = "f" if dtype == "float32" else ""
        cast = "(float)" if dtype == "float32" else "(double)"
        if math.isnan(v):
            return f"{cast}NAN"
        if math.isinf(v):
            return f"{cast}({'-' if v < 0 else ''}INFINITY)"
        return repr(float(np.float32(v)) if dtype == "float32" else v) + suffix
    if dtype == "bool":
        return "1" if bool(value) else "0"
    v = int(value)
    if dtype == "int64":
        return "INT64_MIN" if v == -(2**63) else f"INT64_C({v})"
    return f"(({C_TYPES[dtype]}){v})"
