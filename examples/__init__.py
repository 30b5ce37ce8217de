"""Runnable ccgrad examples: each module is a script (`python examples/NAME.py [--full]`) and has
a `main(argv)` returning its results (tests/test_examples.py runs them quickly)."""
