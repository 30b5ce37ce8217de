"""Issue I.7 — resources: repeated calls do not grow memory (10^5 light / 10^6 stress calls,
growth < 1 MiB, argument reference counts unchanged, also through the update and error paths),
and loading many compiled modules (6 light / 100 stress) leaves the FPU control flags (MXCSR
flush-to-zero / denormals-are-zero, rounding) unchanged and subnormals working, in numpy and in
generated code; no fast-math flag is ever used."""

from __future__ import annotations

from tests.reliability._support import child_env, last_json, pick, record, run_module


def test_repeated_calls_do_not_grow_memory():
    calls = pick(100_000, 1_000_000)
    r = run_module("tests.reliability.resource_driver", ["rss", "--calls", str(calls)], child_env(None))
    assert r.returncode == 0, r.stderr[-3000:]
    s = last_json(r.stdout)
    record("resources-rss", **{f"{k}_calls": v["calls"] for k, v in s.items() if isinstance(v, dict)},
           **{f"{k}_growth_kib": v["rss_growth_kib"] for k, v in s.items() if isinstance(v, dict)},
           rss_kib=s["rss_kib"])
    for label, v in s.items():
        if isinstance(v, dict):
            assert v["rss_growth_kib"] < 1024, (label, v)
            assert v["refcounts_unchanged"], (label, v)


def test_loading_many_modules_keeps_fpu_flags_and_subnormals(tmp_path):
    modules = pick(6, 100)
    r = run_module("tests.reliability.resource_driver", ["fpu", "--modules", str(modules)],
                   child_env(str(tmp_path / "cache")), timeout=3600)
    assert r.returncode == 0, r.stderr[-3000:]
    s = last_json(r.stdout)
    subnormals = s["numpy_subnormal_ok"] and s["generated_f64_subnormal_ok"] and s["generated_f32_subnormal_ok"]
    record("resources-fpu", modules=modules, mxcsr_before=s["mxcsr_before"], mxcsr_after=s["mxcsr_after"],
           changes=len(s["changed_after_loads"]), ftz_daz=s["ftz_daz_bits"], subnormals_ok=subnormals)
    assert s["mxcsr_before"] == s["mxcsr_after"] and not s["changed_after_loads"], s
    assert s["ftz_daz_bits"] == "0x0"
    assert s["numpy_subnormal_ok"] and s["generated_f64_subnormal_ok"] and s["generated_f32_subnormal_ok"], s
    assert s["fast_math_flags"] == []
