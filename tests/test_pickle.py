"""Pickling compiled functions and the JSON graph serializer behind it: round trips in process
and in a fresh process (re-linked from the cache, no build), a restricted unpickler, shared
variables travelling with their values, every op-table op, Scan and Fused, and clear errors."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad import Out
from ccgrad.fingerprint import fingerprint
from ccgrad.graph import FunctionGraph, Op, graph_inputs
from ccgrad.serialize import SerializationError, dumps_function, dumps_graph, loads_graph, safe_loads
from ccgrad.sharedvar import shared

MODES = ["py", "c"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_NUMPY_RECONSTRUCT = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}


class RestrictedUnpickler(pickle.Unpickler):
    """Only ccgrad's own classes/functions and numpy's array reconstruction are loadable."""

    def find_class(self, module, name):
        if module == "ccgrad" or module.startswith("ccgrad.") or (module, name) in _NUMPY_RECONSTRUCT:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"forbidden global {module}.{name}")


def restricted_loads(data: bytes):
    return RestrictedUnpickler(io.BytesIO(data)).load()


def _trainer(mode):
    x, y = T.dmatrix("x"), T.dvector("y")
    w = shared(np.linspace(-0.1, 0.1, 5), name="w")
    b = shared(0.0, name="b")
    p = 1 / (1 + T.exp(-T.dot(x, w) - b))
    cost = (-y * T.log(p) - (1 - y) * T.log(1 - p)).mean() + 0.01 * (w**2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = ccgrad.function([x, y], [p > 0.5, cost], updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)],
                            mode=mode, name="train")
    predict = ccgrad.function([x], p, mode=mode, name="predict")
    return train, predict, w, b


def _data():
    rng = np.random.default_rng(3)
    return rng.standard_normal((8, 5)), (rng.random(8) > 0.5).astype("float64")


# -- in process --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_round_trip_with_shared_state(mode, protocol):
    X, Y = _data()
    train, predict, w, _ = _trainer(mode)
    train(X, Y)
    blob = pickle.dumps((train, predict), protocol=protocol)
    train2, predict2 = pickle.loads(blob)
    assert train2.name == "train" and train2.maker.mode == mode
    # the two unpickled functions share one (new) w; the originals keep theirs
    w2 = next(v for v, _ in train2.maker.updates if v.name == "w")
    assert w2 is not w
    np.testing.assert_array_equal(w2.get_value(), w.get_value())
    for _ in range(3):
        r1, r2 = train(X, Y), train2(X, Y)
        np.testing.assert_array_equal(r1[0], r2[0])
        assert r1[1] == r2[1]
    np.testing.assert_array_equal(w2.get_value(), w.get_value())
    np.testing.assert_array_equal(predict(X), predict2(X))
    b2 = next(v for v, _ in train2.maker.updates if v.name == "b")
    w2.set_value(np.zeros(5))
    b2.set_value(0.0)
    assert np.all(predict2(X) == 0.5) and not np.all(predict(X) == 0.5)


@pytest.mark.parametrize("mode", MODES)
def test_options_survive(mode):
    x = T.dvector("x")
    f = ccgrad.function([x], [Out(x * 2, borrow=True), x.sum()], mode=mode, name="f")
    f.trust_input = True
    g = pickle.loads(pickle.dumps(f))
    assert g.trust_input and g.name == "f" and g.maker.mode == mode
    r, _ = g(np.arange(3.0))
    np.testing.assert_array_equal(r, [0.0, 2.0, 4.0])
    single = ccgrad.function([x], x + 1, mode=mode)
    listed = ccgrad.function([x], [x + 1], mode=mode)
    assert isinstance(pickle.loads(pickle.dumps(single))(np.ones(2)), np.ndarray)
    assert isinstance(pickle.loads(pickle.dumps(listed))(np.ones(2)), list)
    i = T.ivector("i")
    d = ccgrad.function([i], i * 2, mode=mode, allow_input_downcast=True)
    d2 = pickle.loads(pickle.dumps(d))
    np.testing.assert_array_equal(d2(np.array([1, 2], dtype="int64")), [2, 4])
    u = ccgrad.function([x, T.dscalar("unused")], x * 1, mode=mode, on_unused_input="ignore")
    assert pickle.loads(pickle.dumps(u))(np.ones(1), 3.0)[0] == 1.0


def test_shared_variable_pickles_alone():
    v = shared(np.arange(4, dtype="int32"), name="v", strict=True)
    v2 = pickle.loads(pickle.dumps(v))
    assert v2.type == v.type and v2.name == "v" and v2.strict
    np.testing.assert_array_equal(v2.get_value(), v.get_value())
    c = shared(np.float64(1.0), name="c")
    c.default_update = c * 2 + v.sum()
    c2, _ = restricted_loads(pickle.dumps((c, v)))
    f = ccgrad.function([], c2 * 1, mode="py")
    f()
    assert c2.get_value() == 2.0 + 6.0


def test_restricted_unpickler_refuses_others():
    x = T.dvector("x")
    f = ccgrad.function([x], x + 1, mode="py")
    restricted_loads(pickle.dumps(f))  # fine

    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    with pytest.raises(pickle.UnpicklingError, match="forbidden"):
        restricted_loads(pickle.dumps([f, Evil()]))
    # the library's own unpickler allows exactly what ccgrad pickles need
    w = shared(np.ones(2), name="w")
    w.default_update = w * 2
    for protocol in (2, 4, 5):
        g, w2 = safe_loads(pickle.dumps([ccgrad.function([x], x * w, mode="py"), w], protocol=protocol))
        np.testing.assert_array_equal(g(np.ones(2)), [1.0, 1.0])
        assert w2.get_value().tolist() == [2.0, 2.0]  # the default update came along, on the same w
        np.testing.assert_array_equal(g(np.ones(2)), [2.0, 2.0])
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load (posix|os)\.getcwd"):
        safe_loads(pickle.dumps([f, Evil()]))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        safe_loads(pickle.dumps(ccgrad.cache.stats))


@pytest.mark.parametrize("mode", MODES)
def test_seed_scan_jacobian_round_trip(mode):
    x = T.dvector("x")
    y = x**2
    J, updates = ccgrad.scan_module.scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]),
                                         non_sequences=[y, x])
    f = ccgrad.function([x], [J, T.grad(J.sum(), x)], updates=updates, mode=mode)
    g = restricted_loads(pickle.dumps(f))
    for a, b in zip(f([4.0, 4.0]), g([4.0, 4.0])):
        np.testing.assert_array_equal(a, b)


# -- the serializer --------------------------------------------------------------------------


def test_text_format_is_json_and_deterministic():
    x = T.dmatrix("x")
    c = shared(np.eye(2), name="c")
    out = T.dot(x, c)[::-1, ::-1] * np.float32(2.5) + np.array([np.nan, np.inf]) + 3
    a = dumps_graph([x], [out])
    b = dumps_graph([x], [out])
    assert a == b
    doc = json.loads(a)
    assert doc["format"] == "ccgrad-graph" and doc["version"] == 1
    g = loads_graph(a)
    assert dumps_graph(g.inputs, g.outputs) == a
    (c2,) = [v for v in graph_inputs(g.outputs) if v not in g.inputs]
    assert c2 is not c and c2.name == "c"
    assert fingerprint(FunctionGraph([*g.inputs, c2], g.outputs)) == fingerprint(FunctionGraph([x, c], [out]))
    f1 = ccgrad.function([x], out, mode="py")
    f2 = ccgrad.function(g.inputs, g.outputs[0], mode="py")
    v = np.arange(4.0).reshape(2, 2)
    np.testing.assert_array_equal(f1(v), f2(v))
    # the shared variable was stored with its value (self-contained text)
    (leaf,) = [s for s in doc["graph"]["leaves"] if s["kind"] == "shared"]
    assert leaf["name"] == "c" and leaf["value"]["shape"] == [2, 2]
    light = json.loads(dumps_graph([x], [out], shared_values=False))
    assert next(s for s in light["graph"]["leaves"] if s["kind"] == "shared")["value"] is None


def test_every_op_table_graph_round_trips():
    """Each op-table case, unoptimized and optimized (Fused regions), stores and rebuilds to the
    same fingerprint: every op is reconstructible from its class path and constructor values."""
    from ccgrad.rewrite import optimize
    from tests.optable import all_cases, build

    seen, failures = set(), []
    for case in all_cases():
        if case.expect_error is not None:
            continue
        ins, outs = build(case)
        graphs = [FunctionGraph(ins, outs)]
        try:
            graphs.append(optimize(FunctionGraph(ins, outs)))
        except Exception:  # an optimizer problem is another test's business
            pass
        for fg in graphs:
            seen.update(type(n.op).__name__ for n in fg.toposort())
            try:
                g = loads_graph(dumps_graph(fg.inputs, fg.outputs))
                if fingerprint(FunctionGraph(g.inputs, g.outputs)) != fingerprint(fg):
                    failures.append(f"{case.id}: fingerprint differs")
            except SerializationError as exc:
                failures.append(f"{case.id}: {exc}")
    assert not failures, "\n".join(failures[:20])
    assert {"Elemwise", "Fused", "Reduce", "DimShuffle", "Subtensor"} <= seen


def test_dumps_function_matches_pickled_graph():
    x = T.dvector("x")
    w = shared(np.ones(2), name="w")
    f = ccgrad.function([x], (x * w).sum(), updates={w: w * 2}, mode="py")
    g = loads_graph(dumps_function(f)).function()
    assert g(np.array([1.0, 2.0])) == 3.0
    (wg, _), = g.maker.updates
    assert wg is not w and wg.get_value().tolist() == [2.0, 2.0]


class _LocalOp(Op):
    __props__ = ("k",)

    def __init__(self, k, extra):
        self.k = k
        self.extra = extra


def test_serializer_errors():
    x = T.dvector("x")
    from ccgrad.graph import Apply

    bad = Apply(_LocalOp(1, object()), [x], [x.type]).outputs[0]
    with pytest.raises(SerializationError, match="only ops defined at module level in ccgrad"):
        dumps_graph([x], [bad])
    with pytest.raises(SerializationError, match="not a serialized ccgrad graph"):
        loads_graph("{}")
    with pytest.raises(SerializationError, match="not a serialized ccgrad graph"):
        loads_graph("not json")
    text = dumps_graph([x], [x + 1])
    doc = json.loads(text)
    doc["version"] = 99
    with pytest.raises(SerializationError, match="version 99"):
        loads_graph(json.dumps(doc))
    doc["version"] = 1
    doc["ops"][0]["class"] = "os.system"
    with pytest.raises(SerializationError, match="only ccgrad classes"):
        loads_graph(json.dumps(doc))
    doc["ops"][0]["class"] = "ccgrad.function.Function"
    with pytest.raises(SerializationError, match="is not a Op class"):
        loads_graph(json.dumps(doc))


# -- a fresh process ---------------------------------------------------------------------------


def test_fresh_process_relinks_from_cache(tmp_path):
    X, Y = _data()
    train, predict, _, _ = _trainer("c")
    x = T.dvector("x")
    plain = ccgrad.function([x], T.tanh(x) * 3 + 1, mode="c")
    blob = pickle.dumps((train, predict, plain))
    path = tmp_path / "fns.pkl"
    path.write_bytes(blob)
    expected = [train(X, Y), predict(X), plain(np.arange(3.0))]  # after pickling: same start state
    data = tmp_path / "data.npz"
    np.savez(data, X=X, Y=Y)
    script = textwrap.dedent(f"""
        import io, pickle, sys
        import numpy as np
        sys.path.insert(0, {ROOT!r})
        import json, os
        from ccgrad import cache
        from tests.test_pickle import restricted_loads

        def my_builds():  # other test workers share this cache: count this process's builds only
            try:
                lines = open(os.path.join(cache.root(), "builds.log")).read().splitlines()
            except OSError:
                return 0
            return sum(json.loads(ln).get("pid") == os.getpid() for ln in lines if ln.strip())

        before = my_builds()
        train, predict, plain = restricted_loads(open({str(path)!r}, "rb").read())
        d = np.load({str(data)!r})
        out = [train(d["X"], d["Y"]), predict(d["X"]), plain(np.arange(3.0))]
        after = my_builds()
        pickle.dump((before, after, out), sys.stdout.buffer)
    """)
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()
    before, after, got = pickle.loads(proc.stdout)
    assert after == before, "unpickling compiled something: the cache entry should have been re-linked"
    np.testing.assert_array_equal(got[0][0], expected[0][0])
    assert got[0][1] == expected[0][1]
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[2], expected[2])
