"""Fresh-process compile probe: import one library, build one graph's function, call it once.

Usage (by benchmarks.workloads.compile_time): python -m benchmarks.compile_probe SPEC_JSON
SPEC: {"peer": ccgrad|pytensor_c|pytensor|jax, "graph": logistic|mlp, "inputs": npz path,
"arg_names": [...], "out": npz path, "jax_cache": dir, "repeat": n}.  Prints one JSON line:
import seconds, build+first-call seconds ("first": time to first result after the import) and, with
repeat, the times of calling function() again on the same graph in this process.  The cache
directory of each library is chosen by the caller through the environment (CCGRAD_CACHE_DIR,
PYTENSOR_FLAGS) or `jax_cache`.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    spec = json.loads(sys.argv[1])
    import numpy as np

    from benchmarks import dialects, graphs

    data = np.load(spec["inputs"])
    args = [np.ascontiguousarray(data[k]) for k in spec["arg_names"]]
    peer, graph = spec["peer"], spec["graph"]

    t0 = time.perf_counter()
    if peer == "ccgrad":
        import ccgrad
        import ccgrad.tensor  # noqa: F401

        th = dialects.CcgradDialect()
    elif peer in ("pytensor_c", "pytensor"):
        dialects._pytensor()
        th = dialects.PytensorDialect("cvm" if peer == "pytensor_c" else None)
    elif peer == "jax":
        jx = dialects.jax()
        import jax.numpy as jnp

        jx.config.update("jax_compilation_cache_dir", spec["jax_cache"])
        jx.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jx.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    else:
        raise SystemExit(f"unknown peer {peer}")
    t1 = time.perf_counter()
    if peer == "jax":
        fn = jx.jit(getattr(graphs, f"jax_{graph}_grad")(jx, jnp))
        out = jx.block_until_ready(fn(*[jx.device_put(a) for a in args]))
    else:
        ins, outs = getattr(graphs, f"{graph}_graph")(th)
        f = th.function(ins, outs)
        out = f(*args)
    t2 = time.perf_counter()

    repeat = []
    for _ in range(spec.get("repeat", 0) if peer != "jax" else 0):
        t = time.perf_counter()
        th.function(ins, outs)
        repeat.append(time.perf_counter() - t)
    outs_np = [np.asarray(o) for o in (out if isinstance(out, list | tuple) else [out])]
    np.savez(spec["out"], *outs_np)
    print(json.dumps({"import": t1 - t0, "first": t2 - t1, "repeat": repeat}))


if __name__ == "__main__":
    main()
