"""Benchmarks. Each prints JSON lines {"metric", "value", "unit", "ceiling", "ratio"} where the
ceiling is the same work done with raw SQL through the bare driver, measured in the same run."""
