"""Load an AddressSanitizer build of ccgrad's dispatcher as `ccgrad._dispatch` before ccgrad is
imported (`make asan`; scripts/asan.sh builds it into a temp dir and names it in
CCGRAD_ASAN_DISPATCH).  A package's submodule is found through the package, not sys.path, so the
module is placed in sys.modules directly."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys


def preload_dispatch(path: str) -> None:
    """Import the extension at `path` as ccgrad._dispatch (must run before `import ccgrad`)."""
    if "ccgrad" in sys.modules:
        raise RuntimeError("preload_dispatch must run before ccgrad is imported")
    loader = importlib.machinery.ExtensionFileLoader("ccgrad._dispatch", path)
    spec = importlib.util.spec_from_file_location("ccgrad._dispatch", path, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ccgrad._dispatch"] = mod
    loader.exec_module(mod)
    import ccgrad

    ccgrad._dispatch = mod
    from ccgrad.function import CFunction

    if not issubclass(CFunction, mod.Kernel):
        raise RuntimeError("ccgrad did not pick up the preloaded dispatcher")
