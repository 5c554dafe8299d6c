"""How fast a resume starts: a sweep of N jobs whose first half completed, resumed.

1. runs the sweep once with the no-op launcher, and keeps its journal's run line only;
2. appends a start line and an end line for each of the first N/2 jobs, as the jobs would
   have;
3. resumes it (``hydra.sweeper.resume=true``) and reports, next to a fresh run of the same
   sweep: time from process start to the first launch, total time, peak RSS.

    python bench/resume.py            # N = 1,000,000
    python bench/resume.py --n 100000
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from hydra.core.override_parser.overrides_parser import OverridesParser  # noqa: E402
from scaling import run_once  # noqa: E402

from hydra_python_sweeper.journal.lines import encode  # noqa: E402
from hydra_python_sweeper.run.adaptive import Adaptive  # noqa: E402
from hydra_python_sweeper.run.pipeline import assemble  # noqa: E402
from hydra_python_sweeper.run.settings import Settings  # noqa: E402
from hydra_python_sweeper.space.stages import job_digest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.n
    with tempfile.TemporaryDirectory() as tmp:
        sweep_dir = Path(tmp) / "sweep"
        fresh = run_once("python", n, sweep_dir=str(sweep_dir))
        journal_path = sweep_dir / "journal.jsonl"
        runs = [line for line in journal_path.read_text().splitlines() if '"run"' in line]
        journal_path.write_text(runs[0] + "\n")  # the run's line: no job has run yet
        os.environ["BENCH_N"] = str(n)
        settings = Settings.of({"entrypoints": ["bench_spaces.grid"], "max_batch_size": 1000})
        parser = OverridesParser.create()
        batches = assemble(settings, [], parser, Adaptive(None, True)).batches
        with open(sweep_dir / "journal.jsonl", "ab") as journal:
            for start, batch in batches:
                if start >= n // 2:
                    break
                for number, job in enumerate(batch, start):
                    started = {
                        "job": number,
                        "status": "started",
                        "digest": job_digest(job).hex(),
                        "host": "node",
                        "pid": 1,
                    }
                    journal.write(encode(started))
                    record = {
                        "job": number,
                        "status": "completed",
                        "digest": job_digest(job).hex(),
                        "overrides": job,
                        "return": None,
                        "dir": str(sweep_dir / str(number)),
                    }
                    journal.write(encode(record))
        size = (sweep_dir / "journal.jsonl").stat().st_size
        resumed = run_once(
            "python",
            n,
            sweep_dir=str(sweep_dir),
            extra=["hydra.sweeper.resume=true"],
            expect=n - n // 2,
        )
    print(f"journal: {n // 2} completed jobs, {size / 2**20:.1f} MiB")
    print(f"{'run':<10}{'first launch s':>16}{'total s':>10}{'peak RSS MiB':>14}")
    for name, result in (("fresh", fresh), ("resumed", resumed)):
        print(
            f"{name:<10}{result['first_launch_s']:>16.3f}{result['total_s']:>10.2f}"
            f"{result['peak_rss_mib']:>14.1f}"
        )


if __name__ == "__main__":
    main()
