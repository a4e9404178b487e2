"""The toolkits' part of the look: GTK 2, 3 and 4 settings files, X resources and the environment Qt reads.

GTK 3 and 4 read ~/.config/gtk-N.0/settings.ini (there is no settings daemon in a sandbox), GTK 2
reads ~/.gtkrc-2.0 (its Adwaita comes from gnome-themes-extra), Qt 5 takes the Adwaita style from
adwaita-qt through QT_STYLE_OVERRIDE, and X toolkit programs (xterm) read ~/.Xresources, named by
XENVIRONMENT: a terminal in a scalable monospace font of a readable size, as desktops' terminals have,
instead of xterm's 6x13 bitmap font. The caret does not blink, so two screenshots of an idle desktop
are the same picture.
"""
from __future__ import annotations

from pathlib import Path


def write_gtk_settings(home: Path, *, theme: str, icons: str, font: str) -> list[Path]:
    """Write the GTK 2/3/4 settings files under home; return their paths."""
    settings = (f"[Settings]\ngtk-theme-name = {theme}\ngtk-icon-theme-name = {icons}\ngtk-font-name = {font}\n"
                "gtk-cursor-blink = false\ngtk-enable-animations = false\ngtk-application-prefer-dark-theme = false\n")
    written = []
    for version in ("gtk-3.0", "gtk-4.0"):
        path = home / ".config" / version / "settings.ini"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(settings)
        written.append(path)
    gtkrc = home / ".gtkrc-2.0"
    gtkrc.write_text(f'gtk-theme-name = "{theme}"\ngtk-icon-theme-name = "{icons}"\ngtk-font-name = "{font}"\n'
                     "gtk-cursor-blink = 0\n")
    return [*written, gtkrc]


def write_x_resources(home: Path, *, monospace: str) -> Path:
    """Write ~/.Xresources for X toolkit programs: xterm in the monospace font ('DejaVu Sans Mono 11')."""
    family, size = monospace.rsplit(" ", 1)
    path = home / ".Xresources"
    path.write_text(f"XTerm*faceName: {family}\nXTerm*faceSize: {size}\nXTerm*cursorBlink: false\n"
                    "XTerm*internalBorder: 4\n")
    return path


def toolkit_env(*, qt_style: str, cursor_theme: str, x_resources: Path) -> dict[str, str]:
    """Environment the apps need for the look: Qt's widget style, the pointer's theme, the X resources file."""
    return {"QT_STYLE_OVERRIDE": qt_style, "XCURSOR_THEME": cursor_theme, "XENVIRONMENT": str(x_resources)}
