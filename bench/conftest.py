"""Prints, after the benchmarks, each one's throughput and its ratio to the plain-Python floor."""

from typing import Any

N = 100_000  # jobs per benchmark round


def pytest_terminal_summary(terminalreporter: Any, config: Any) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    medians = {b.name: b.stats.median for b in session.benchmarks if b.stats}
    if not medians:
        return
    floor = medians.get("test_floor")
    floor_dedup = medians.get("test_floor_dedup")
    write = terminalreporter.write_line
    write("")
    write(f"{'benchmark':<40}{'jobs/s (median)':>16}{'x floor':>9}")
    for name, median in sorted(medians.items(), key=lambda item: item[1]):
        reference = floor_dedup if "dedup" in name else floor
        ratio = f"{median / reference:>9.2f}" if reference else ""
        write(f"{name:<40}{N / median:>16,.0f}{ratio}")
    write(
        "x floor: median time over the plain-Python floor of the same run (with or without dedup)"
    )
