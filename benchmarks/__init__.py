"""Benchmarks: `make bench` (or `python -m benchmarks [name ...]`) runs them; nothing here is a test."""
