"""Benchmarks, run on demand with `make bench`; they print figures and never run as timed tests."""
