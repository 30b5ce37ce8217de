"""The reliability and security suite (issue I): concurrency, crash safety, corruption, unsafe
cache locations, bad-input fuzzing, differential fuzzing and resource use.

Every test has a light version run by `make test` and heavy parameters selected by
CCGRAD_STRESS=1 (`make stress`); `make asan` reruns the bad-input fuzzer under ASan/UBSan.
"""
