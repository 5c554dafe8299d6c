"""The ``report`` command: one self-contained HTML page of a sweep, from its journal.

:mod:`.ends` tallies the journal's end lines as the status reads it (:mod:`.tally`'s
bounded tallies), :mod:`.scan` runs that pass and gathers what the page shows,
:mod:`.figures` draws it with plotly, :mod:`.page` writes the page.
"""
