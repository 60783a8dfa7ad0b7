"""What the Line API widgets (ladder, hex view) share."""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.strip import Strip


def line_strip(text: Text, widget, width: int) -> Strip:
    """``text`` as one line of ``widget``, ``width`` cells, on the widget's own background."""
    segments = Segment.apply_style(text.render(widget.app.console), widget.rich_style)
    return Strip(segments).crop_extend(0, width, widget.rich_style).simplify()
