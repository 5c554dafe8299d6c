"""A launcher that runs nothing, for the benchmarks."""
