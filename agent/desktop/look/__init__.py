"""How a sandbox desktop looks: wallpaper, panels, window theme, GTK/Qt theme, fonts, maximised windows.

`LOOKS` is the one table of looks; a task picks one by name (`sandbox.look`, whose names
agent.tasks.schema.LookName lists):

- `taskbar` (the default): a bottom panel as on Xfce, Cinnamon or LXQt (launchers, a button per
  window, status icons, the clock) over a blue wallpaper.
- `gnome`: GNOME's top bar (Activities, the clock in the middle, status icons) and Ubuntu's dock on
  the left over an aubergine-and-orange wallpaper, as on OSWorld's Ubuntu VM.

Both use Adwaita (GTK 2/3/4, Qt through adwaita-qt, the icons), the Cantarell font and openbox with
our flat Adwaita-coloured theme, which maximises ordinary windows into the area the panels leave.

`dress(look, home, width, height)` writes every file the look needs where a person's desktop keeps
them (~/.config/openbox, ~/.config/tint2, ~/.config/gtk-3.0, ~/.gtkrc-2.0, ~/.Xresources,
~/.local/share) and returns a `Dressing`: the wallpaper and panel files to start (paths relative to
home), the environment the apps need, the work area the panels leave free once they run, and where
the pointer rests at the start (on a panel, over nothing: Xvfb puts it in the middle of the screen,
where a centred window's button would show a hover effect or a tooltip in the first screenshot).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import DisplayError

from agent.desktop.look.openbox import write_rc, write_theme
from agent.desktop.look.panels import Panel, write_status_icons
from agent.desktop.look.toolkits import toolkit_env, write_gtk_settings, write_x_resources
from agent.desktop.look.wallpaper import Glow, Wallpaper
from agent.tasks.schema import SandboxSpec

DEFAULT_LOOK: str = SandboxSpec.model_fields["look"].default
# Where the look keeps its own files under the apps' home.
LOOK_DATA = Path(".local/share/desktop-look")

# The apps a dock or launcher shows, best known first; those not installed are left out.
EVERYDAY_APPS = ("pcmanfm.desktop", "debian-xterm.desktop", "org.xfce.mousepad.desktop", "gnumeric.desktop",
                 "abiword.desktop", "ristretto.desktop", "galculator.desktop")
OSWORLD_APPS = ("chromium.desktop", "thunderbird.desktop", "vlc.desktop", "libreoffice-writer.desktop",
                "libreoffice-calc.desktop", "libreoffice-impress.desktop", "gimp.desktop", "pcmanfm.desktop",
                "debian-xterm.desktop", "org.xfce.mousepad.desktop")
# A file of each Debian package the looks need beyond the programs (require_tools checks those): a missing
# theme or font would not stop a sandbox, it would quietly change every window's size and layout.
LOOK_PACKAGES = {
    "gnome-themes-extra": ("/usr/share/themes/Adwaita/gtk-2.0/gtkrc",),
    "adwaita-icon-theme": ("/usr/share/icons/Adwaita/index.theme",),
    "fonts-cantarell": ("/usr/share/fonts/opentype/cantarell/Cantarell-Regular.otf",),
    "adwaita-qt": ("/usr/lib/*/qt5/plugins/styles/adwaita.so",),
}


def require_look_packages(root: Path = Path("/")) -> None:
    """Raise DisplayError naming the Debian packages of the look that are not installed."""
    missing = [package for package, patterns in LOOK_PACKAGES.items()
               if not any(next(root.glob(pattern.lstrip("/")), None) for pattern in patterns)]
    if missing:
        raise DisplayError(f"the sandbox desktop's themes and fonts are missing; install them with: "
                           f"sudo apt-get install {' '.join(missing)}")


@dataclass(frozen=True)
class Look:
    """One desktop look: a wallpaper, panels, fonts and themes, and which windows keep their own size."""

    name: str
    summary: str
    wallpaper: Wallpaper
    panels: tuple[Panel, ...]
    font: str = "Cantarell 11"  # GTK's interface font, the title bars' and the panels'
    monospace: str = "DejaVu Sans Mono 11"  # the terminal's (xterm) font
    theme: str = "Adwaita"  # GTK theme (GTK 2 needs gnome-themes-extra)
    icons: str = "Adwaita"
    qt_style: str = "Adwaita"  # Qt 5 widget style (adwaita-qt)
    # WM_CLASS classes whose windows keep the size they ask for, centred (a calculator is not maximised).
    natural_size: tuple[str, ...] = ("Galculator",)


@dataclass(frozen=True)
class Dressing:
    """What `dress` wrote and what the sandbox must do with it."""

    wallpaper: Path  # the picture for the root window, relative to home
    panels: tuple[Path, ...]  # one tint2rc per panel, relative to home
    work_area: tuple[int, int, int, int]  # (x, y, width, height) left free by the panels once they run
    pointer: tuple[int, int] | None  # where the pointer rests at the start: on a panel, over nothing
    env: dict[str, str] = field(default_factory=dict)


LOOKS: dict[str, Look] = {
    "taskbar": Look(
        name="taskbar",
        summary="a bottom taskbar (launchers, windows, status icons, clock) over a blue wallpaper",
        wallpaper=Wallpaper(
            grid=(((22, 50, 92), (31, 86, 140), (20, 110, 150)), ((14, 30, 62), (24, 62, 112), (18, 84, 124))),
            glows=(Glow(0.78, 0.30, 0.45, (72, 170, 200), 0.35), Glow(0.18, 0.85, 0.40, (60, 90, 170), 0.30)),
        ),
        panels=(Panel("taskbar", 40, EVERYDAY_APPS[:5]),),
        font="Cantarell 10",
    ),
    "gnome": Look(
        name="gnome",
        summary="GNOME's top bar and Ubuntu's dock over an aubergine-and-orange wallpaper (OSWorld's Ubuntu VM)",
        wallpaper=Wallpaper(
            grid=(((44, 0, 30), (94, 24, 80), (140, 40, 78)), ((60, 8, 48), (150, 44, 70), (233, 84, 32))),
            glows=(Glow(0.80, 0.85, 0.40, (240, 120, 60), 0.45), Glow(0.25, 0.20, 0.35, (119, 33, 111), 0.35)),
        ),
        panels=(Panel("topbar", 32), Panel("dock", 64, OSWORLD_APPS)),
    ),
}


def dress(look: Look, home: Path, width: int, height: int, app_home: Path | None = None) -> Dressing:
    """Write look's files under home for a width x height screen; return what to start with them.

    app_home: where the apps see home (the panels' files name their icons by that path); default home."""
    app_home = app_home or home
    write_rc(home / ".config/openbox/rc.xml", font=look.font, natural_size=look.natural_size)
    write_theme(home / ".local/share/themes")
    write_gtk_settings(home, theme=look.theme, icons=look.icons, font=look.font)
    x_resources = write_x_resources(home, monospace=look.monospace)
    wallpaper = look.wallpaper.write(home / LOOK_DATA / f"wallpaper-{width}x{height}.png", width, height)
    icons = {name: app_home / path.relative_to(home)
             for name, path in write_status_icons(home / LOOK_DATA / "icons").items()}
    top = sum(panel.thickness for panel in look.panels if panel.kind == "topbar")
    left = sum(panel.thickness for panel in look.panels if panel.kind == "dock")
    bottom = sum(panel.thickness for panel in look.panels if panel.kind == "taskbar")
    panels = []
    for panel in look.panels:
        path = home / ".config/tint2" / f"{panel.kind}.tint2rc"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(panel.tint2rc(width, height, look.font, icons, reserved_top=top), encoding="utf-8")
        panels.append(path.relative_to(home))
    spots = [spot for panel in look.panels if (spot := panel.quiet_spot(width, height))]
    return Dressing(wallpaper=wallpaper.relative_to(home), panels=tuple(panels),
                    work_area=(left, top, width - left, height - top - bottom), pointer=spots[0] if spots else None,
                    env=toolkit_env(qt_style=look.qt_style, cursor_theme=look.icons,
                                    x_resources=app_home / x_resources.relative_to(home)))
