"""The base of the Line API widgets (ladder, fields, hex view): each draws only the lines on
screen, keeps drawn lines in an LRU cache, and never makes the screen lay itself out again."""

from __future__ import annotations

from typing import Callable, Hashable, Iterable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Offset, Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget


class LineView(ScrollView):
    def __init__(self, cache_size: int = 1000, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lines_cache: LRUCache[Hashable, Strip] = LRUCache(maxsize=cache_size)
        self.base_style = Style()

    def render_lines(self, crop: Region) -> list[Strip]:
        self.base_style = self.rich_style  # looked up once a frame, not once a line
        return super().render_lines(crop)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.lines_cache.clear()  # the theme changed: cached lines have the old colours

    def cached(self, key: Hashable, draw: Callable[[], Strip]) -> Strip:
        strip = self.lines_cache.get(key)
        if strip is None:
            strip = self.lines_cache[key] = draw()
        return strip

    def blank(self) -> Strip:
        return Strip.blank(self.scrollable_content_region.width, self.base_style)

    def visible(self, strip: Strip) -> Strip:
        """The part of a full-width line that the horizontal scroll shows."""
        x, width = round(self.scroll_x), self.scrollable_content_region.width
        if x == 0 and strip.cell_length == width:
            return strip
        return strip.crop_extend(x, x + width, self.base_style)

    def segments_strip(self, segments: Iterable[Segment], width: int) -> Strip:
        """Segments as one line exactly ``width`` cells wide, padded with the background.
        (Making a Strip costs more than it looks: one per line, not one per step of work.)"""
        line = Segment.adjust_line_length(list(segments), width, self.base_style)
        return Strip(line, width)

    def text_strip(self, text: Text, width: int) -> Strip:
        """``text`` as one line ``width`` cells wide, on the widget's own background."""
        console = self.app.console
        # Text.render() leaves the text's own style out: put it under the spans' styles here.
        base = self.base_style + console.get_style(text.style) if text.style else self.base_style
        return self.segments_strip(Segment.apply_style(text.render(console), base), width)

    def clicked(self, event: events.Click, lines: int) -> Offset | None:
        """Where a click landed in the content, as (column, line) counted from the top left of
        the whole scrollable area; None outside it or below the last of ``lines``."""
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        where = offset + (round(self.scroll_x), round(self.scroll_y))
        return where if where.y < lines else None

    def set_virtual_size(self, size: Size) -> None:
        """Resize the scrollable area without laying the screen out again.

        Assigning ``virtual_size`` asks for a layout of the whole screen, which costs more
        than drawing a step. These widgets always show their scrollbars (``overflow: scroll``
        in the stylesheet), so a new size moves nothing around them: only the thumbs change.
        """
        if size == self.virtual_size:
            return
        self.set_reactive(Widget.virtual_size, size)
        region = self.scrollable_content_region
        for bar, virtual, window in ((self.vertical_scrollbar, size.height, region.height),
                                     (self.horizontal_scrollbar, size.width, region.width)):
            bar.window_virtual_size = virtual
            bar.window_size = window
            bar.refresh()
        self.scroll_to(min(self.scroll_x, self.max_scroll_x), min(self.scroll_y, self.max_scroll_y),
                       animate=False, immediate=True)
        # The lines are the caller's to refresh: a step may change only a few.
