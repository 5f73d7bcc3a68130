"""Benchmarks for amplifier. Run them as scripts, e.g. ``python benchmarks/fanout.py --quick``."""
