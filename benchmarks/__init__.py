"""Benchmarks (issue 7): not tests, never gate CI. Run ``python benchmarks/run.py``."""
