"""The journal: what a sweep did, one JSON line a step, in ``<sweep dir>/journal.jsonl``.

Its line format (:mod:`.lines`) and parser (:mod:`.parse`); the writer (:mod:`.writer`) and
the readers (:mod:`.reader`, :mod:`.split_read` for big journals, :mod:`.records` for users);
who may write it (:mod:`.admission`, its locks; :mod:`.fence`, a superseded writer stands
down); the watch of a batch's ends (:mod:`.watch`) and what a resume relaunches
(:mod:`.resume_batches`). It imports the job space only.
"""
