"""The on-disk cache: keys, atomic publish under concurrency, corruption detection, unsafe
roots, warm starts through the graph index, and compile errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad import cache, options

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def fresh_root(tmp_path, monkeypatch):
    """A private cache root for one test (0700, under pytest's tmp dir)."""
    root = tmp_path / "cache"
    monkeypatch.setenv("CCGRAD_CACHE_DIR", str(root))
    options.reload_options()
    cache.reset()
    from ccgrad import backend

    backend._MEMO.clear()
    yield str(root)
    monkeypatch.undo()
    options.reload_options()
    cache.reset()
    backend._MEMO.clear()


def _logistic(n_scale: float = 1.0):
    x = T.dvector("x")
    return [x], T.grad(T.sum(1 / (1 + T.exp(-x * n_scale))), x)


def _entries(root: str) -> list[str]:
    out = []
    for d in os.listdir(root):
        if len(d) == 2:
            out.extend(os.path.join(root, d, k) for k in os.listdir(os.path.join(root, d)))
    return out


def test_build_publishes_one_entry_and_loads_it(fresh_root):
    ins, out = _logistic()
    f = ccgrad.function(ins, out, mode="c")
    x = np.linspace(-2, 2, 7)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(f(x), s * (1 - s), rtol=1e-12)
    entries = _entries(fresh_root)
    assert len(entries) == 1
    meta = json.load(open(os.path.join(entries[0], "meta.json")))
    assert set(meta["parts"]) >= {"source", "compiler", "flags", "target", "python", "cffi", "blas", "format"}
    assert meta["key"] == os.path.basename(entries[0])
    assert oct(os.stat(fresh_root).st_mode & 0o777) == "0o700"
    assert cache.stats()["builds"] == 1


def test_key_changes_with_every_part():
    parts = {"source": "a", "compiler": "gcc", "flags": "-O3", "target": "x", "python": "p",
             "cffi": "1", "blas": "b", "format": "1"}
    base = cache.make_key(parts)
    for k in parts:
        changed = dict(parts, **{k: parts[k] + "!"})
        assert cache.make_key(changed) != base, k


def _run_py(code: str, root: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, CCGRAD_CACHE_DIR=root, PYTHONPATH=ROOT)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=300)


_DETERMINISM = """
import ccgrad, ccgrad.tensor as T
from ccgrad.graph import FunctionGraph
from ccgrad.lower import lower
from ccgrad.rewrite import optimize
from ccgrad import cache
x = T.dmatrix('x'); y = T.dvector('y')
g = T.grad(T.sum(T.tanh(x) * T.exp(-x ** 2) + T.log1p(x * x)) + T.sum(y * y), [x, y])
src = lower(optimize(FunctionGraph([x, y], g))).source
print(cache.make_key(cache.key_parts(src)))
"""


def test_codegen_is_deterministic_across_processes(fresh_root):
    keys = {_run_py(_DETERMINISM, fresh_root, {"PYTHONHASHSEED": str(s)}).stdout.strip() for s in (1, 2, 3)}
    assert len(keys) == 1 and len(next(iter(keys))) == 64, keys


_WORKER = """
import sys, ccgrad, ccgrad.tensor as T, numpy as np
ok = 0
for k in range(20):
    x = T.dvector('x')
    f = ccgrad.function([x], T.sum(T.exp(x * float(k + 1))), mode='c')
    v = np.linspace(-1, 1, 5)
    assert abs(float(f(v)) - np.exp(v * (k + 1)).sum()) < 1e-9
    ok += 1
print(ok)
"""


@pytest.mark.parametrize("lock", ["1", "0"])
def test_concurrent_processes_build_each_function_once(fresh_root, lock):
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=dict(os.environ, CCGRAD_CACHE_DIR=fresh_root, PYTHONPATH=ROOT,
                                                  CCGRAD_LOCK=lock))
             for _ in range(8)]
    results = [p.communicate(timeout=600) for p in procs]
    for (out, err), p in zip(results, procs):
        assert p.returncode == 0, err[-2000:]
        assert out.strip() == "20"
    assert len(_entries(fresh_root)) == 20
    st = cache.stats(fresh_root)
    if lock == "1":
        assert st["builds"] == 20 and all(v == 1 for v in st["keys"].values()), st
    else:
        assert len(st["keys"]) == 20  # duplicate builds allowed, one published entry each


@pytest.mark.parametrize("damage", ["truncate", "bitflip", "empty", "meta-garbled", "meta-missing",
                                    "meta-wrong-hash", "not-a-dir", "so-missing"])
def test_corrupt_entry_is_detected_moved_aside_and_rebuilt(fresh_root, damage):
    ins, out = _logistic(1.5)
    ccgrad.function(ins, out, mode="c")
    (entry,) = _entries(fresh_root)
    meta_path = os.path.join(entry, "meta.json")
    meta = json.load(open(meta_path))
    so = os.path.join(entry, meta["file"])
    if damage == "truncate":
        data = open(so, "rb").read()
        open(so, "wb").write(data[: len(data) // 2])
    elif damage == "bitflip":
        data = bytearray(open(so, "rb").read())
        data[len(data) // 3] ^= 0x10
        open(so, "wb").write(bytes(data))
    elif damage == "empty":
        open(so, "wb").close()
    elif damage == "meta-garbled":
        open(meta_path, "w").write("{not json")
    elif damage == "meta-missing":
        os.unlink(meta_path)
    elif damage == "meta-wrong-hash":
        meta["sha256"] = "0" * 64
        open(meta_path, "w").write(json.dumps(meta))
    elif damage == "not-a-dir":
        import shutil

        shutil.rmtree(entry)
        open(entry, "w").write("junk")
    elif damage == "so-missing":
        os.unlink(so)
    # A fresh process must detect it before loading, move it to trash/, rebuild, and be right.
    code = """
    import warnings, ccgrad, ccgrad.tensor as T, numpy as np
    warnings.simplefilter('always')
    x = T.dvector('x')
    f = ccgrad.function([x], T.grad(T.sum(1 / (1 + T.exp(-x * 1.5))), x), mode='c')
    v = np.linspace(-2, 2, 5); s = 1 / (1 + np.exp(-1.5 * v))
    assert np.allclose(f(v), 1.5 * s * (1 - s))
    print('ok')
    """
    r = _run_py(code, fresh_root)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "ok"
    assert "corrupt" in r.stderr
    assert len(os.listdir(os.path.join(fresh_root, "trash"))) == 1
    assert cache.stats(fresh_root)["builds"] == 2


def test_unsafe_root_is_refused_but_functions_work(tmp_path, monkeypatch):
    root = tmp_path / "shared"
    root.mkdir()
    os.chmod(root, 0o777)
    monkeypatch.setenv("CCGRAD_CACHE_DIR", str(root))
    options.reload_options()
    cache.reset()
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            ins, out = _logistic(2.5)
            f = ccgrad.function(ins, out, mode="c")
        assert any("not using the cache" in str(x.message) for x in w)
        x = np.array([0.0, 1.0])
        s = 1 / (1 + np.exp(-2.5 * x))
        np.testing.assert_allclose(f(x), 2.5 * s * (1 - s))
        assert _entries(str(root)) == []
    finally:
        monkeypatch.undo()
        options.reload_options()
        cache.reset()


def test_0700_root_under_tmp_is_used(tmp_path, monkeypatch):
    import tempfile

    root = tempfile.mkdtemp(prefix="ccgrad-own-")  # 0700 under /tmp (sticky)
    monkeypatch.setenv("CCGRAD_CACHE_DIR", root)
    options.reload_options()
    cache.reset()
    try:
        assert cache.unsafe_reason(root) is None
        ins, out = _logistic(3.5)
        ccgrad.function(ins, out, mode="c")
        assert len(_entries(root)) == 1
    finally:
        monkeypatch.undo()
        options.reload_options()
        cache.reset()


def test_symlinked_root_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    assert "symbolic link" in cache.unsafe_reason(str(link))


def test_warm_start_skips_optimizing_and_lowering(fresh_root):
    code = """
    import ccgrad, ccgrad.tensor as T, numpy as np
    import ccgrad.rewrite, ccgrad.lower
    calls = []
    orig = ccgrad.lower.lower
    ccgrad.lower.lower = lambda fg, donate=None: calls.append(1) or orig(fg, donate)
    x = T.dvector('x')
    f = ccgrad.function([x], T.grad(T.sum(x ** 3), x), mode='c')
    assert np.allclose(f(np.array([1.0, 2.0])), [3.0, 12.0])
    print(len(calls), ccgrad.cache.stats()['builds'])
    """
    first = _run_py(code, fresh_root)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["1", "1"]
    second = _run_py(code, fresh_root)
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["0", "1"]


def test_compile_error_is_short_and_names_the_source(tmp_path):
    from ccgrad import compile as cc

    with pytest.raises(cc.CompileError) as info:
        cc.build("int ccg_run(void) { this is not C; }\n", "_ccg_broken", str(tmp_path))
    msg = str(info.value)
    assert len(msg.splitlines()) <= 4
    assert "src.c" in msg and os.path.exists(info.value.source_path)
    assert os.path.exists(info.value.log_path)


def test_missing_compiler_says_so(monkeypatch):
    from ccgrad import compile as cc

    monkeypatch.setenv("CC", "no-such-compiler-xyz")
    options.reload_options()
    cc._probe.cache_clear()
    cc.compiler.cache_clear()
    try:
        with pytest.raises(cc.CompileError, match=r"no C compiler found.*doctor.*mode='py'"):
            cc.compiler()
    finally:
        monkeypatch.undo()
        options.reload_options()
        cc._probe.cache_clear()
        cc.compiler.cache_clear()
