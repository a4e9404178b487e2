"""The desktop's panels, drawn by tint2: a bottom taskbar, or GNOME's top bar and a dock on the left.

Each `Panel` is one tint2 process with its own configuration file (`tint2rc`). Every panel reserves
its edge of the screen (a strut), so openbox maximises windows into the area left free; tooltips
and right-click "close" on tasks are off, so hovering or a stray click does not open or close
windows. A panel's window has a blank title, so it is not among the windows a task's checks and
waits see. Status icons are Adwaita's symbolic icons, recoloured white for a dark panel.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ICONS = Path("/usr/share/icons/Adwaita/scalable")
STATUS_ICONS = ("devices/network-wired-symbolic", "status/audio-volume-high-symbolic",
                "actions/system-shutdown-symbolic")
WHITE = "#ffffff"
# The panels' window title: a no-break space. tint2 will not leave it empty, and the window lists (task checks,
# wait_windows, Sandbox.window_titles) skip titles that are only white space, so they hold the apps' windows.
PANEL_WINDOW_NAME = "\u00a0"

# Backgrounds, numbered from 1 in tint2rc: (colour and opacity, hover colour, rounded corner radius).
BACKGROUNDS = {
    "bar": ("#1d1d1d 100", "#1d1d1d 100", 0),
    "dock": ("#1d1d1d 82", "#1d1d1d 82", 0),
    "task": ("#ffffff 0", "#ffffff 10", 6),
    "active task": ("#ffffff 16", "#ffffff 22", 6),
    "button": ("#ffffff 0", "#ffffff 12", 6),
}


@dataclass(frozen=True)
class Panel:
    """One panel: which kind (see `LAYOUTS`), at which edge, how thick in pixels."""

    kind: Literal["taskbar", "topbar", "dock"]
    thickness: int
    launchers: tuple[str, ...] = ()  # .desktop file names; those not installed are left out

    def quiet_spot(self, width: int, height: int) -> tuple[int, int] | None:
        """A point on this panel with nothing under it (the pointer rests there at the start), if it has one."""
        if self.kind == "taskbar":
            return width - 260, height - self.thickness // 2  # the taskbar's free end, left of the status icons
        if self.kind == "topbar":
            return width // 4, self.thickness // 2  # between "Activities" and the clock
        return None

    def tint2rc(self, width: int, height: int, font: str, icons: dict[str, Path], reserved_top: int = 0) -> str:
        """The tint2 configuration of this panel on a width x height screen (reserved_top: a bar above a dock)."""
        return "\n".join([*_backgrounds(), *LAYOUTS[self.kind](self, width, height, font, icons, reserved_top), ""])


def installed_launchers(names: tuple[str, ...], applications: Path = Path("/usr/share/applications")) -> list[str]:
    """The .desktop names of names that are installed, in order."""
    return [name for name in names if (applications / name).is_file()]


def write_status_icons(folder: Path, colour: str = WHITE) -> dict[str, Path]:
    """Copies of the status icons in colour (symbolic icons are drawn dark); name -> file. Missing ones are left out."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for icon in STATUS_ICONS:
        source = ICONS / f"{icon}.svg"
        if not source.is_file():
            continue
        svg = source.read_text(encoding="utf-8").replace("#2e3436", colour)  # filled paths; the others inherit:
        svg = svg.replace("<svg ", f'<svg fill="{colour}" ', 1)
        target = folder / source.name
        target.write_text(svg, encoding="utf-8")
        written[Path(icon).name] = target
    return written


def _backgrounds() -> list[str]:
    lines = []
    for colour, hover, radius in BACKGROUNDS.values():
        lines += [f"rounded = {radius}", "border_width = 0", f"background_color = {colour}",
                  f"background_color_hover = {hover}", f"background_color_pressed = {hover}"]
    return lines


def _background_id(name: str) -> int:
    return list(BACKGROUNDS).index(name) + 1


def _common() -> list[str]:
    return [f"panel_window_name = {PANEL_WINDOW_NAME}", "panel_monitor = all", "panel_layer = top", "panel_dock = 0",
            "strut_policy = follow_size", "autohide = 0", "wm_menu = 1", "mouse_effects = 1", "font_shadow = 0",
            "disable_transparency = 0", "panel_shrink = 0", "startup_notifications = 0", "launcher_tooltip = 0",
            "task_tooltip = 0", "mouse_left = toggle_iconify", "mouse_middle = none", "mouse_right = none",
            "mouse_scroll_up = none", "mouse_scroll_down = none", "taskbar_mode = single_desktop", "taskbar_name = 0",
            "launcher_icon_theme = Adwaita", "launcher_icon_theme_override = 1"]


def _launchers(panel: Panel, size: int) -> list[str]:
    return ["launcher_padding = 4 4 6", "launcher_background_id = 0",
            f"launcher_icon_background_id = {_background_id('button')}", f"launcher_icon_size = {size}",
            *(f"launcher_item_app = {name}" for name in installed_launchers(panel.launchers))]


def _status_buttons(icons: dict[str, Path], size: int, padding: int) -> tuple[str, list[str]]:
    """(panel_items letters, button lines) for the status icons."""
    lines = []
    for path in icons.values():
        lines += ["button = new", f"button_icon = {path}", f"button_max_icon_size = {size}",
                  f"button_padding = {padding} 0 0", f"button_background_id = {_background_id('button')}"]
    return "P" * len(icons), lines


def _taskbar(panel: Panel, width: int, height: int, font: str, icons: dict[str, Path], reserved_top: int) -> list[str]:
    """A bottom panel as on Xfce, Cinnamon or LXQt: launchers, one button per window, status icons, clock."""
    family, size = font.rsplit(" ", 1)
    status, buttons = _status_buttons(icons, 16, 6)
    return [*_common(), f"panel_items = LT{status}C", f"panel_size = 100% {panel.thickness}",
            "panel_position = bottom center horizontal", "panel_margin = 0 0", "panel_padding = 6 3 6",
            f"panel_background_id = {_background_id('bar')}", *_launchers(panel, panel.thickness - 14),
            "taskbar_padding = 6 0 4", "taskbar_background_id = 0", "taskbar_active_background_id = 0",
            "task_text = 1", "task_icon = 1", "task_centered = 0", "task_align = left",
            f"task_maximum_size = 220 {panel.thickness}", "task_padding = 8 5 6",
            f"task_font = {family} {int(size) - 1}", "task_font_color = #ffffff 85",
            "task_active_font_color = #ffffff 100", f"task_background_id = {_background_id('task')}",
            f"task_active_background_id = {_background_id('active task')}",
            f"task_iconified_background_id = {_background_id('task')}", "task_iconified_font_color = #ffffff 55",
            *buttons, "time1_format = %H:%M", "time2_format = %a %d %b", f"time1_font = {family} Bold {int(size) - 1}",
            f"time2_font = {family} {int(size) - 2}", "clock_font_color = #ffffff 100", "clock_padding = 10 0",
            "clock_background_id = 0"]


def _topbar(panel: Panel, width: int, height: int, font: str, icons: dict[str, Path], reserved_top: int) -> list[str]:
    """GNOME's top bar: "Activities" on the left, the date and time in the middle, status icons on the right."""
    family, size = font.rsplit(" ", 1)
    status, buttons = _status_buttons(icons, 16, 8)
    return [*_common(), f"panel_items = PF{'C'}F{status}", f"panel_size = 100% {panel.thickness}",
            "panel_position = top center horizontal", "panel_margin = 0 0", "panel_padding = 4 0 4",
            f"panel_background_id = {_background_id('bar')}",
            "button = new", "button_text = Activities", f"button_font = {family} Bold {size}",
            "button_font_color = #ffffff 100", "button_padding = 12 0 0",
            f"button_background_id = {_background_id('button')}",
            *buttons, "time1_format = %b %-d  %H:%M", f"time1_font = {family} Bold {size}",
            "clock_font_color = #ffffff 100", "clock_padding = 12 0",
            f"clock_background_id = {_background_id('button')}"]


def _dock(panel: Panel, width: int, height: int, font: str, icons: dict[str, Path], reserved_top: int) -> list[str]:
    """Ubuntu's dock: a column on the left under the top bar, favourite apps first, then the open windows."""
    return [*_common(), "panel_items = LT", f"panel_size = {height - reserved_top} {panel.thickness}",
            "panel_position = bottom left vertical", "panel_margin = 0 0", "panel_padding = 0 6 4",
            f"panel_background_id = {_background_id('dock')}", *_launchers(panel, panel.thickness - 22),
            "taskbar_padding = 0 4 4", "taskbar_background_id = 0", "taskbar_active_background_id = 0",
            "task_text = 0", "task_icon = 1", "task_centered = 1", "task_align = left",
            f"task_maximum_size = {panel.thickness} {panel.thickness - 8}", "task_padding = 8 8 0",
            f"task_background_id = {_background_id('task')}",
            f"task_active_background_id = {_background_id('active task')}",
            f"task_iconified_background_id = {_background_id('task')}"]


LAYOUTS = {"taskbar": _taskbar, "topbar": _topbar, "dock": _dock}
