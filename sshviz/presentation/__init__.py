"""Traces and events as text for people: the transcript of ``run`` and ``--print``, the text
and JSON of ``inspect``, and the Markdown/HTML handouts of ``report``. Reads events only."""
