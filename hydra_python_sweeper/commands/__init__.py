"""The commands (``hydra-python-sweeper status|cancel``, :mod:`.cli`): where a sweep stands
(:mod:`.status`), its results as a table or plot (:mod:`.table`, :mod:`.plot`), and
stopping it (:mod:`.cancel`). They read the journal; they never import the run.
"""
