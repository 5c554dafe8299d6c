"""Where jobs run: SLURM (:mod:`.slurm`), the detached sweep's driver (:mod:`.detach`,
:mod:`.driver`), and which processes and SLURM jobs are provably the sweep's
(:mod:`.liveness`). It imports the journal and the job space, never the run.
"""
