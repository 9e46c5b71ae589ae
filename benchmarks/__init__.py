"""Benchmarks run by hand (README.md); never imported by the package or the tests."""
