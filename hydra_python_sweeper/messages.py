"""How the sweeper's messages say things: counts, progress, the command that resumes.

>>> plural(1, "job"), plural(2, "batch"), progress(3, 12)
('1 job', '2 batches', '3 of 12 jobs, 25%')
"""

import shlex
import sys
from pathlib import Path
from typing import List, Optional


def plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, in the plural unless ``count`` is one.

    >>> plural(1, "job"), plural(2, "batch")
    ('1 job', '2 batches')
    """
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun}{'es' if noun.endswith('ch') else 's'}"


def progress(done: int, total: Optional[int]) -> str:
    """How far a sweep is, as the batch lines say it.

    >>> progress(3000, None), progress(3000, 14000), progress(2, 12), progress(999, 1000)
    ('3000 jobs so far', '3000 of 14000 jobs, 21%', '2 of 12 jobs, 17%', '999 of 1000 jobs, 99%')
    """
    if total is None:
        return f"{plural(done, 'job')} so far"
    percent = round(100 * done / total) if total else 100
    if done < total:
        percent = min(percent, 99)  # 100% only once every job is there
    return f"{done} of {plural(total, 'job')}, {percent}%"


#: The last argument of a detached sweep's driver (after its ``hydra.sweep.dir=``).
DRIVEN = "hydra.sweeper.detach=false"
#: The sweeper's commands (status, cancel, results, report), as the messages spell them.
COMMAND = "python -m hydra_plugins.hydra_python_sweeper"


def resume_command(sweep_dir: Path, argv: Optional[List[str]] = None) -> str:
    """The command that resumes this sweep: this process's own (or ``argv``, as a run line
    records it), with the resume settings; a detached sweep's (its driver's) is resumed
    detached, as it was started.

    >>> saved, sys.argv = sys.argv, ["train.py", "-m", "+lr=0.1,0.2", "hydra.sweep.dir=old"]
    >>> resume_command(Path("/runs/a b"))
    "python train.py -m +lr=0.1,0.2 hydra.sweeper.resume=true 'hydra.sweep.dir=/runs/a b'"
    >>> resume_command(Path("/r"), ["train.py", "-m", "hydra.sweep.dir=/r", DRIVEN])
    'python train.py -m hydra.sweeper.resume=true hydra.sweep.dir=/r hydra.sweeper.detach=true'
    >>> sys.argv = saved
    """
    argv = list(sys.argv if argv is None else argv) or ["app.py"]
    driven = len(argv) > 2 and argv[-1] == DRIVEN and argv[-2].startswith("hydra.sweep.dir=")
    arguments = [
        argument
        for argument in argv[1:]
        if not argument.startswith(("hydra.sweeper.resume=", "hydra.sweep.dir="))
        and not (driven and argument.startswith("hydra.sweeper.detach="))
    ]
    return shlex.join(
        [
            "python",
            argv[0],
            *arguments,
            "hydra.sweeper.resume=true",
            f"hydra.sweep.dir={sweep_dir.absolute()}",
            *(["hydra.sweeper.detach=true"] if driven else []),
        ]
    )
