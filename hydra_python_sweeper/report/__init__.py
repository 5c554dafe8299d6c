"""A sweep's report: one self-contained HTML page built from its journal.

:mod:`.scan` reads the journal once, from its end, into :mod:`.tally`'s bounded tallies;
:mod:`.figures` draws them with plotly; :mod:`.page` writes the page.
"""
