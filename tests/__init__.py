"""ccgrad's test suite (see tests/optable.py for the op table)."""
