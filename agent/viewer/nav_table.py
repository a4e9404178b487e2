"""A row-cursor DataTable with vi-style keys (j/k, g/G) next to the arrows, shown in the footer."""
from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable


class NavTable(DataTable):
    """DataTable moving a row cursor with ↑/↓ or j/k, g to the top and G to the bottom."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", key_display="↑/k"),
        Binding("down,j", "cursor_down", "Down", key_display="↓/j"),
        Binding("g", "scroll_top", "Top"),
        Binding("G", "scroll_bottom", "Bottom"),
    ]

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
