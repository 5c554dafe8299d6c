"""The sweep as Hydra runs it: from ``sweep()`` to the summary.

:mod:`.sweeper` is what Hydra's plugin calls; :mod:`.settings` and :mod:`.validate` check the
sweep before anything launches; :mod:`.pipeline` assembles the stream of batches,
:mod:`.preview` counts it for a dry run; :mod:`.loop` draws it into batches in flight
(:mod:`.flight`), launched (:mod:`.launch`, the task wrapped by :mod:`.task`), retried
(:mod:`.retries`), adapted to results (:mod:`.adaptive`), resumed with jobs still running
(:mod:`.adoption`), and ended (:mod:`.ending`).
"""
