"""Benchmarks of extapi_pandas against hand-written baselines."""
