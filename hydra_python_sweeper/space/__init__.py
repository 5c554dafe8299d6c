"""The job space: what the jobs are, before anything runs.

Entrypoints are called (:mod:`.sources`, adaptive ones fed :mod:`.results`), combined lazily
(:mod:`.product`, :mod:`.merge`), their values checked and written as Hydra override strings
(:mod:`.values`, :mod:`.markers`, :mod:`.format`), and streamed through small stages
(:mod:`.stages`): dedup over xxhash digests (:mod:`.digests`), shadowed keys
(:mod:`.shadowing`). It imports nothing of the journal, the cluster or the run.
"""
