"""The benchmark of issue 6: mailflow against a bare forwarder on the real local mail stack.

Run it with `bench/run` (see BENCHMARKS.md); it is not part of the test suite.
"""
