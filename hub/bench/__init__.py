"""``v2v bench``: the hub on the real stack against a plain Kafka baseline (see runner.py)."""

from hub.bench.report import Report
from hub.bench.runner import BenchConfig, run_bench

__all__ = ["BenchConfig", "Report", "run_bench"]
