"""The seed tutorial ("Derivatives in Theano") run verbatim, printing each result.

`ccgrad demo` and `make demo` call `main()`.  Each example runs in Theano's spelling after
`import ccgrad as theano; import ccgrad.tensor as T; from ccgrad import function, pp`.
"""

from __future__ import annotations

import sys
import time
import traceback

PRELUDE = "import ccgrad as theano\nimport ccgrad.tensor as T\nfrom ccgrad import function, pp\n"

# (title, code lines); lines starting with '>' are echoed with their value like a REPL.
EXAMPLES: list[tuple[str, list[str]]] = [
    ("Computing gradients", [
        "x = T.dscalar('x')",
        "y = x**2",
        "gy = T.grad(y, x)",
        ">pp(gy)",
        "f = function([x], gy)",
        ">f(4)",
        ">f(94.2)",
        ">pp(f.maker.fgraph.outputs[0])",
        ">pp(f.maker.env.outputs[0])",
        ">len(f.maker.fgraph.apply_nodes)",
    ]),
    ("Gradient of the logistic function", [
        "x = T.dmatrix('x')",
        "s = T.sum(1 / (1 + T.exp(-x)))",
        "gs = T.grad(s, x)",
        "dlogistic = function([x], gs)",
        ">dlogistic([[0, 1], [-1, -2]])",
    ]),
    ("Computing the Jacobian", [
        "x = T.dvector('x')",
        "y = x**2",
        "J, updates = theano.scan(lambda i, y,x : T.grad(y[i], x), sequences = T.arange(y.shape[0]), non_sequences = [y,x])",
        "f = function([x], J, updates = updates)",
        ">f([4,4])",
    ]),
    ("Computing the Hessian", [
        "x = T.dvector('x')",
        "y = x**2",
        "cost = y.sum()",
        "gy = T.grad(cost, x)",
        "H, updates = theano.scan(lambda i, gy,x : T.grad(gy[i], x), sequences = T.arange(gy.shape[0]), non_sequences = [gy,x])",
        "f = function([x], H, updates = updates)",
        ">f([4,4])",
    ]),
    ("R-operator", [
        "W = T.dmatrix('W')",
        "V = T.dmatrix('V')",
        "x = T.dvector('x')",
        "y = T.dot(x,W)",
        "JV = T.Rop(y, W, V)",
        "f = theano.function([W,V,x], JV)",
        ">f([[1,1],[1,1]], [[2,2,],[2,2]], [0,1])",
    ]),
    ("L-operator (the tutorial's text passes JV where it means VJ)", [
        "W = T.dmatrix('W')",
        "v = T.dvector('v')",
        "x = T.dvector('x')",
        "y = T.dot(x,W)",
        "VJ = T.Lop(y, W, v)",
        "!f = theano.function([W,v,x], JV)",
        "f = theano.function([v,x], VJ)",
        ">f([2,2,], [0,1])",
    ]),
    ("Hessian times a vector, by grad", [
        "x = T.dvector('x')",
        "v = T.dvector('v')",
        "y = T.sum(x**2)",
        "gy = T.grad(y, x)",
        "vH = T.grad( T.sum(gy*v), x)",
        "f = theano.function([x,v], vH)",
        ">f([4,4],[2,2])",
    ]),
    ("Hessian times a vector, by the R-operator", [
        "x = T.dvector('x')",
        "v = T.dvector('v')",
        "y = T.sum(x**2)",
        "gy = T.grad(y, x)",
        "Hv = T.Rop(gy,x,v)",
        "f = theano.function([x,v], Hv)",
        ">f([4,4],[2,2])",
    ]),
]


def run_example(title: str, lines: list[str], ns: dict, out) -> bool:
    """Run one example; '>' lines print their value, '!' lines must raise (printed)."""
    print(f"\n== {title}", file=out)
    for line in lines:
        if line.startswith(">"):
            code = line[1:]
            print(f">>> {code}", file=out)
            value = eval(code, ns)
            print(repr(value), file=out)
        elif line.startswith("!"):
            code = line[1:]
            print(f">>> {code}", file=out)
            try:
                exec(code, ns)
            except Exception as exc:
                print(f"{type(exc).__name__}: {exc}", file=out)
            else:
                print("(no error)", file=out)
        else:
            print(f">>> {line}", file=out)
            exec(line, ns)
    return True


def main(out=None, strict: bool = False, verbose: bool = False) -> int:
    """Run every example; the exit status is 1 only in strict mode when one failed."""
    out = out or sys.stdout
    ns: dict = {}
    exec(PRELUDE, ns)
    failures = 0
    import ccgrad

    print(f"ccgrad {ccgrad.__version__}: the seed tutorial, default mode "
          f"{ccgrad.function_module.DEFAULT_MODE!r}", file=out)
    for title, lines in EXAMPLES:
        t0 = time.perf_counter()
        try:
            run_example(title, lines, ns, out)
        except Exception as exc:
            failures += 1
            print(f"FAILED: {type(exc).__name__}: {exc}", file=out)
            if verbose:
                traceback.print_exc(file=out)
        print(f"   ({(time.perf_counter() - t0) * 1e3:.1f} ms)", file=out)
    print(f"\n{len(EXAMPLES) - failures}/{len(EXAMPLES)} examples ran", file=out)
    failures += run_project_examples(out)
    return 1 if (failures and strict) else 0


# The repository's examples/ (not installed with the package): run quickly when present.
PROJECT_EXAMPLES = [
    ("logistic regression trained with shared weights and updates (examples/logistic_regression.py)",
     "examples.logistic_regression", ["--steps", "500"]),
    ("scipy.optimize trust-ncg on Rosenbrock n=1000 with ccgrad's jac and hessp (examples/rosenbrock_trust_ncg.py)",
     "examples.rosenbrock_trust_ncg", []),
    ("the tutorial's figure: the logistic function's derivative (examples/dlogistic_plot.py)",
     "examples.dlogistic_plot", ["--out", "dlogistic.png"]),
]


def run_project_examples(out) -> int:
    import contextlib
    import importlib

    failures = 0
    for title, module, argv in PROJECT_EXAMPLES:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            return 0  # not a source checkout
        print(f"\n== {title}", file=out)
        t0 = time.perf_counter()
        try:
            with contextlib.redirect_stdout(out):
                mod.main(argv)
        except Exception as exc:
            failures += 1
            print(f"FAILED: {type(exc).__name__}: {exc}", file=out)
        print(f"   ({(time.perf_counter() - t0) * 1e3:.1f} ms)", file=out)
    return failures


if __name__ == "__main__":
    raise SystemExit(main())
