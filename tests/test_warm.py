"""`ccgrad cache warm`, driven in subprocesses: a module of 30 functions warmed with -j 2 leaves a
fresh process with zero compiles; two builds really overlap; record -> warm on an empty cache;
a broken function fails alone, naming itself and its saved source; collect-mode placeholders.

One warmed cache is shared by every test of the session (and by tests/test_cli.py): the first
test to need it warms it under a file lock, later ones (in any xdist worker) reuse it.
Nothing but the warming itself compiles into that cache.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_FUNCTIONS = 30

MOD30 = textwrap.dedent('''
    """30 functions: 25 built at import time, 5 declared with @warmup."""
    import ccgrad
    import ccgrad.tensor as T
    from ccgrad import warmup

    FUNCS = {}
    for k in range(25):
        x = T.dvector("x")
        cost = T.sum(T.sin(x) * (k + 0.5)) + T.sum(x ** 2) * k
        FUNCS[f"g{k}"] = ccgrad.function([x], T.grad(cost, x), mode="c", name=f"g{k}")


    def _declare(k):
        def build():
            a = T.dmatrix("a")
            b = T.dvector("b")
            return [a, b], T.tanh(a * b).sum(axis=1) * (k + 1.0), {"mode": "c", "name": f"w{k}"}

        build.__qualname__ = build.__name__ = f"w{k}"
        return warmup(build)


    BUILDERS = [_declare(k) for k in range(5)]
''')

# A program using the 30 functions: prints compile counts before and after, checks values.
USE30 = textwrap.dedent('''
    import json, sys
    import numpy as np
    import ccgrad
    from ccgrad import cache

    before = cache.stats()["builds"]
    import mod30

    fs = dict(mod30.FUNCS)
    for b in mod30.BUILDERS:
        ins, outs, kw = b()
        fs[kw["name"]] = ccgrad.function(ins, outs, **kw)
    x = np.linspace(-1, 1, 5)
    for k in range(25):
        want = np.cos(x) * (k + 0.5) + 2 * x * k
        assert np.allclose(fs[f"g{k}"](x), want, rtol=1e-12, atol=1e-12), k
    a = np.arange(6.0).reshape(2, 3) / 6
    for k in range(5):
        assert np.allclose(fs[f"w{k}"](a, x[:3]), np.tanh(a * x[:3]).sum(axis=1) * (k + 1.0))
    print(json.dumps({"before": before, "after": cache.stats()["builds"], "n": len(fs)}))
''')


def env_for(root: str, **extra: str) -> dict:
    """The environment of a subprocess using cache root `root` (test builds at -O1)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CCGRAD_RECORD", "CCGRAD_COLLECT")}
    env["CCGRAD_CACHE_DIR"] = root
    env.setdefault("CCGRAD_TEST_BUILD", "1")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def ccgrad_cmd(args: list[str], root: str, cwd: str | None = None, timeout: float = 600, **extra: str):
    """Run `python -m ccgrad ARGS` with cache root `root`."""
    return subprocess.run([sys.executable, "-m", "ccgrad", *args], cwd=cwd, env=env_for(root, **extra),
                          capture_output=True, text=True, timeout=timeout)


def run_py(path: str, root: str, cwd: str, **extra: str):
    return subprocess.run([sys.executable, path], cwd=cwd, env=env_for(root, **extra), capture_output=True,
                          text=True, timeout=600)


def warmed() -> dict:
    """The session's warmed cache: {'root', 'src', 'stdout', 'stderr', 'returncode', 'seconds'}."""
    base = os.environ["CCGRAD_CACHE_DIR"] + "-warm"
    os.makedirs(base, mode=0o700, exist_ok=True)
    done = os.path.join(base, "done.json")
    with open(base + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(done):
            with open(done) as fh:
                return json.load(fh)
        src = os.path.join(base, "src")
        os.makedirs(src, exist_ok=True)
        for name, text in (("mod30.py", MOD30), ("use30.py", USE30)):
            with open(os.path.join(src, name), "w") as fh:
                fh.write(text)
        root = os.path.join(base, "cache")
        t0 = time.perf_counter()
        proc = ccgrad_cmd(["cache", "warm", "mod30", "-j", "2"], root, cwd=src)
        info = {"root": root, "src": src, "stdout": proc.stdout, "stderr": proc.stderr,
                "returncode": proc.returncode, "seconds": time.perf_counter() - t0}
        with open(done, "w") as fh:
            json.dump(info, fh)
        return info


def use30(root: str, src: str) -> dict:
    proc = run_py(os.path.join(src, "use30.py"), root, cwd=src)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def build_intervals(root: str) -> list[tuple[float, float, int]]:
    """(start, end, pid) of every build in root's builds.log (end = t, start = t - seconds)."""
    out = []
    with open(os.path.join(root, "builds.log")) as fh:
        for line in fh:
            rec = json.loads(line)
            out.append((rec["t"] - rec["seconds"], rec["t"], rec["pid"]))
    return sorted(out)


# ---------------------------------------------------------------------------------------------


def test_warm_30_functions_then_a_fresh_process_compiles_nothing():
    w = warmed()
    assert w["returncode"] == 0, w["stdout"] + w["stderr"]
    assert f"warmed {N_FUNCTIONS} function(s)" in w["stdout"]
    assert "0 failed" in w["stdout"] and "with 2 process(es)" in w["stdout"]
    used = use30(w["root"], w["src"])
    assert used["n"] == N_FUNCTIONS
    assert used["after"] == used["before"] >= N_FUNCTIONS


def test_minus_j2_runs_two_compiles_at_once():
    w = warmed()
    iv = build_intervals(w["root"])
    assert len({pid for _, _, pid in iv}) == 2, "two worker processes built"
    overlapping = [(a, b) for i, a in enumerate(iv) for b in iv[i + 1:] if a[2] != b[2] and b[0] < a[1]]
    assert overlapping, f"no two builds overlapped in time: {iv}"


def test_warming_again_builds_nothing():
    w = warmed()
    proc = ccgrad_cmd(["cache", "warm", "mod30.py", "-j", "2", "-q"], w["root"], cwd=w["src"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"0 built, {N_FUNCTIONS} already cached, 0 failed" in proc.stdout
    assert proc.stderr == ""


def test_record_then_warm_on_an_empty_cache(tmp_path):
    w = warmed()
    rec = tmp_path / "graphs.jsonl"
    # Recording in the warmed cache compiles nothing, but records every function built.
    proc = run_py(os.path.join(w["src"], "use30.py"), w["root"], cwd=w["src"], CCGRAD_RECORD=str(rec))
    assert proc.returncode == 0, proc.stderr
    lines = rec.read_text().splitlines()
    assert len(lines) == N_FUNCTIONS
    assert {json.loads(ln)["name"] for ln in lines} == {f"g{k}" for k in range(25)} | {f"w{k}" for k in range(5)}
    empty = str(tmp_path / "cache")
    proc = ccgrad_cmd(["cache", "warm", str(rec), "-j", "2"], empty, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{N_FUNCTIONS} built, 0 already cached, 0 failed" in proc.stdout
    used = use30(empty, w["src"])
    assert used["before"] == used["after"] == N_FUNCTIONS


BROKEN = textwrap.dedent('''
    import ccgrad
    import ccgrad.tensor as T
    from ccgrad.graph import Apply, Op


    class Broken(Op):
        """An op whose C does not compile."""
        __props__ = ()

        def make_node(self, x):
            return Apply(self, [x], [x.type])

        def perform(self, node, inputs):
            return [inputs[0].copy()]

        def c_code(self, ctx, node, ins):
            ctx.line("this is not C;")
            return [ins[0]]


    x = T.dvector("x")
    first = ccgrad.function([x], T.exp(x) * 3.0, mode="c", name="first")
    bad = ccgrad.function([x], Broken()(x) + 1.0, mode="c", name="the_broken_one")
    last = ccgrad.function([x], T.tanh(x) * 2.5, mode="c", name="last")
    in_python = ccgrad.function([x], x + 1, mode="py")
''')


def test_one_broken_function_fails_alone_and_names_its_source(tmp_path):
    (tmp_path / "brokenmod.py").write_text(BROKEN)
    root = str(tmp_path / "cache")
    proc = ccgrad_cmd(["cache", "warm", "brokenmod.py", "-j", "2"], root, cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "2 built, 0 already cached, 1 failed, 1 skipped" in out
    assert "Traceback" not in out + proc.stderr
    fail_line = next(ln for ln in out.splitlines() if "the_broken_one" in ln)
    assert "brokenmod.py:24" in fail_line and "error" in fail_line
    src_line = next(ln for ln in out.splitlines() if "saved source:" in ln)
    saved = src_line.split("saved source:")[1].strip()
    assert os.path.isfile(saved) and "this is not C;" in open(saved).read()
    assert saved.startswith(os.path.join(root, "failed"))
    log_line = next(ln for ln in out.splitlines() if "compiler output:" in ln)
    assert os.path.isfile(log_line.split("compiler output:")[1].strip())
    # the two good functions are in the cache: a program using them compiles nothing more
    names = {json.loads(ln)["name"] for ln in open(os.path.join(root, "builds.log"))}
    assert names == {"first", "last"}


def test_functions_used_at_import_time_are_collected_up_to_the_use(tmp_path):
    (tmp_path / "eager.py").write_text(textwrap.dedent('''
        import ccgrad
        import ccgrad.tensor as T

        x = T.dvector("x")
        f = ccgrad.function([x], T.exp(x) + 7.0, mode="c", name="eager")
        print(f([1.0]))
        g = ccgrad.function([x], T.exp(x) + 8.0, mode="c", name="never_reached")
    '''))
    root = str(tmp_path / "cache")
    proc = ccgrad_cmd(["cache", "warm", "eager.py", "-j", "1"], root, cwd=str(tmp_path))
    assert proc.returncode == 1
    assert "importing eager.py failed: RuntimeError" in proc.stderr
    assert "(at eager.py:7)" in proc.stderr and "collect mode" in proc.stderr
    assert "1 built, 0 already cached, 0 failed" in proc.stdout


def test_list_only_collects(tmp_path):
    w = warmed()
    proc = ccgrad_cmd(["cache", "warm", "mod30", "--list"], str(tmp_path / "unused"), cwd=w["src"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == N_FUNCTIONS
    line = next(k for k, text in enumerate(MOD30.splitlines(), 1) if "FUNCS[f\"g{k}\"]" in text)
    assert lines[0] == f"g0 (mod30.py:{line})" and lines[-1] == "mod30.w4"
    assert not os.path.exists(tmp_path / "unused" / "builds.log")


def test_missing_target_is_one_line(tmp_path):
    proc = ccgrad_cmd(["cache", "warm", "no_such_module_xyz"], str(tmp_path / "c"), cwd=str(tmp_path))
    assert proc.returncode == 1
    assert "no module named 'no_such_module_xyz'" in proc.stderr
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------------------------
# in-process: collect mode, placeholders, builders (no compiles)


def test_collect_mode_returns_placeholders_and_records_arguments():
    import ccgrad
    import ccgrad.tensor as T
    from ccgrad import warm

    x = T.dvector("x")
    with warm.collecting() as jobs:
        f = ccgrad.function([x], x * 2, mode="c", name="twice")
        g = ccgrad.function([x], x * 3)
    assert len(jobs) == 2
    assert jobs[0].label.startswith("twice (test_warm.py:")
    assert jobs[0].payload["outputs"] is not None and jobs[0].mode == "c"
    assert jobs[1].mode == ccgrad.function_module.DEFAULT_MODE
    with pytest.raises(RuntimeError, match="collect mode"):
        f([1.0])
    with pytest.raises(RuntimeError, match="collect mode"):
        g.maker
    # outside the block function() compiles again
    h = ccgrad.function([x], x * 2, mode="py")
    assert list(h([1.0])) == [2.0]


def test_warmup_builders_must_return_two_or_three_items(tmp_path, monkeypatch):
    from ccgrad import warm

    (tmp_path / "builders_mod.py").write_text(textwrap.dedent('''
        import ccgrad.tensor as T
        from ccgrad.warm import warmup

        @warmup
        def ok():
            x = T.dvector("x")
            return [x], x + 1, {"mode": "c"}

        @warmup
        def bad():
            return 42
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    jobs, problems = warm.collect([str(tmp_path / "builders_mod.py")])
    assert [j.label for j in jobs] == ["builders_mod.ok"]
    assert jobs[0].payload["name"] == "ok" and jobs[0].mode == "c"
    assert len(problems) == 1 and "builders_mod.bad" in problems[0] and "(inputs, outputs)" in problems[0]
    with pytest.raises(TypeError):
        warm.warmup(42)


def test_warmup_is_exported_as_ccgrad_warmup():
    import ccgrad
    from ccgrad import warm

    if not hasattr(ccgrad, "warmup"):
        pytest.skip("ccgrad/__init__.py does not re-export warmup yet (lead's file)")
    assert ccgrad.warmup is warm.warmup


def test_bad_record_lines_are_reported(tmp_path):
    from ccgrad import warm

    p = tmp_path / "r.jsonl"
    p.write_text('{"graph": "x", "name": "a"}\nnot json\n{"graph": "x", "name": "dup"}\n\n{"nograph": 1}\n')
    jobs, problems = warm.read_records(str(p))
    assert [j.label for j in jobs] == ["a (r.jsonl:1)"]  # the duplicate graph is dropped
    assert len(problems) == 2 and problems[0].startswith(f"{p}:2:")
