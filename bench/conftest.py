"""Prints, after the benchmarks, each one's throughput and its ratio to the plain-Python floor."""

from typing import Any

N = 100_000  # jobs per benchmark round


def pytest_terminal_summary(terminalreporter: Any, config: Any) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    medians = {b.name: b.stats.median for b in session.benchmarks if b.stats}
    minima = {b.name: b.stats.min for b in session.benchmarks if b.stats}
    if not medians:
        return
    write = terminalreporter.write_line
    write("")
    write(f"{'benchmark':<40}{'jobs/s (median)':>16}{'x floor':>9}{'x floor (min)':>15}")
    for name, median in sorted(medians.items(), key=lambda item: item[1]):
        reference = "test_floor_dedup" if "dedup" in name else "test_floor"
        if reference in medians:
            ratios = f"{median / medians[reference]:>9.2f}{minima[name] / minima[reference]:>15.2f}"
        else:
            ratios = ""
        write(f"{name:<40}{N / median:>16,.0f}{ratios}")
    write(
        "x floor: time over the plain-Python floor of the same run (with or without dedup), "
        "by the medians and by the minima (the least disturbed rounds)"
    )
