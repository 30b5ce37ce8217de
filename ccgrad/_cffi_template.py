"""cffi's module wrapper as a template: the C that wraps every generated kernel is the same but
for the module name, so it is generated once (at install time, by setup.py) with a placeholder
name, and building a function only substitutes the name: no C declaration parsing at run time.

No ccgrad imports: setup.py loads this file on its own."""

from __future__ import annotations

import hashlib
import os

PLACEHOLDER = "_ccgMODULEPLACEHOLDER"
TEMPLATE_NAME = "_cffi_wrapper.c.in"
PREAMBLE = "#include <stdint.h>\n"


def header(cdef: str) -> str:
    """First line of a template: the cffi version and ABI declarations that produced it."""
    import cffi

    digest = hashlib.sha256(cdef.encode()).hexdigest()[:16]
    return f"/* ccgrad cffi wrapper template: cffi {cffi.__version__} abi {digest} */\n"


def write(path: str, cdef: str) -> None:
    """Generate the template for these ABI declarations into `path` (atomically)."""
    import cffi
    from cffi.recompiler import make_c_source

    ffi = cffi.FFI()
    ffi.cdef(cdef)
    tmp = path + ".tmp"
    make_c_source(ffi, PLACEHOLDER, PREAMBLE + cdef, tmp)
    with open(tmp, encoding="utf-8") as fh:
        text = fh.read()
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(header(cdef) + text)
    os.replace(tmp, path)


def load(path: str, cdef: str) -> str | None:
    """The template's C (without its header line) if it matches this cffi and ABI, else None."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return None
    head = header(cdef)
    return text[len(head):] if text.startswith(head) else None
