"""ccgrad's benchmark suite: workloads timed against hand-written numpy, PyTensor and JAX in one run.

Run it with `python -m benchmarks` (see `benchmarks/__main__.py` for the options).  This package
file imports nothing numeric on purpose: the runner must set every thread-pool variable before
numpy, OpenBLAS or XLA load.
"""
