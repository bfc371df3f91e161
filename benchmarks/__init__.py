"""Benchmarks and evaluation scripts for monitor (run with ``python -m benchmarks.<name>``)."""
