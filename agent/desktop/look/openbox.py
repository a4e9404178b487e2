"""The window manager's part of the look: openbox's rc.xml and a flat, Adwaita-coloured window theme.

rc.xml is the system's default (/etc/xdg/openbox/rc.xml, from the openbox package, so every mouse and
key binding a person expects stays) with a few settings changed: our theme and title font, one
workspace (the wheel on the desktop then cannot switch to an empty one), no animation, and
application rules. Those rules place every ordinary application window maximised in the area the
panels leave free, so a task's first screenshot is the same in every run whatever size the app
asks for; the classes in `Look.natural_size` (a calculator) keep their own size, centred, as a
person would leave them. Dialogs are placed by openbox (centred on their parent).

The theme (`write_theme`) is our own: a light title bar with a centred bold title and minimise,
maximise and close buttons drawn as 10x10 bitmaps, GNOME's colours.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from agent.errors import SandboxError

SYSTEM_RC = Path("/etc/xdg/openbox/rc.xml")
NS = "http://openbox.org/3.4/rc"
THEME_NAME = "AgentAdwaita"

# The window theme: GNOME's Adwaita colours on openbox's flat textures.
THEMERC = """\
border.width: 1
padding.width: 8
padding.height: 7
window.handle.width: 0
window.client.padding.width: 0
window.client.padding.height: 0
window.label.text.justify: left
*.font: shadow=n
window.active.border.color: #b6b0aa
window.inactive.border.color: #cdc7c2
window.*.title.separator.color: #d5d0cc
window.active.title.bg: flat solid
window.active.title.bg.color: #e1dedb
window.inactive.title.bg: flat solid
window.inactive.title.bg.color: #f6f5f4
window.*.label.bg: parentrelative
window.active.label.text.color: #2e3436
window.inactive.label.text.color: #929595
window.*.button.*.bg: parentrelative
window.active.button.*.image.color: #2e3436
window.inactive.button.*.image.color: #929595
window.active.button.hover.bg: flat solid
window.active.button.hover.bg.color: #d0cbc6
window.active.button.pressed.bg: flat solid
window.active.button.pressed.bg.color: #bfb8b1
window.*.button.disabled.image.color: #c0bdba
window.*.handle.bg: flat solid
window.*.handle.bg.color: #e1dedb
window.*.grip.bg: flat solid
window.*.grip.bg.color: #e1dedb
menu.border.width: 1
menu.border.color: #cdc7c2
menu.overlap: 0
menu.title.bg: flat solid
menu.title.bg.color: #f6f5f4
menu.title.text.color: #2e3436
menu.title.text.justify: center
menu.items.bg: flat solid
menu.items.bg.color: #ffffff
menu.items.text.color: #2e3436
menu.items.disabled.text.color: #929595
menu.items.active.bg: flat solid
menu.items.active.bg.color: #3584e4
menu.items.active.text.color: #ffffff
menu.separator.color: #e1dedb
menu.separator.padding.height: 4
osd.border.width: 1
osd.border.color: #cdc7c2
osd.bg: flat solid
osd.bg.color: #f6f5f4
osd.label.text.color: #2e3436
osd.hilight.bg: flat solid
osd.hilight.bg.color: #3584e4
osd.unhilight.bg: flat solid
osd.unhilight.bg.color: #e1dedb
"""

# The title bar's buttons as 10x10 pictures ('#' = drawn), written out as X bitmaps.
BUTTONS = {
    "close": ["#        #", " #      # ", "  #    #  ", "   #  #   ", "    ##    ",
              "    ##    ", "   #  #   ", "  #    #  ", " #      # ", "#        #"],
    "max": ["##########", "##########", "#        #", "#        #", "#        #",
            "#        #", "#        #", "#        #", "#        #", "##########"],
    "max_toggled": ["  ########", "  #      #", "########.#", "########.#", "#      #.#",
                    "#      ###", "#      #  ", "#      #  ", "#      #  ", "########  "],
    "iconify": ["          ", "          ", "          ", "          ", "          ",
                "          ", "          ", "          ", "##########", "##########"],
}


def write_rc(path: Path, *, font: str, natural_size: tuple[str, ...], source: Path = SYSTEM_RC) -> Path:
    """Write rc.xml at path: the system default with our theme, font, one workspace and window rules."""
    try:
        tree = ET.parse(source)
    except (OSError, ET.ParseError) as exc:
        raise SandboxError(f"cannot read openbox's default configuration {source}: {exc} "
                           "(reinstall it: apt-get install --reinstall openbox)") from exc
    ET.register_namespace("", NS)
    root = tree.getroot()
    family, size = _split_font(font)
    theme = _child(root, "theme")
    _child(theme, "name").text = THEME_NAME
    _child(theme, "titleLayout").text = "LIMC"
    _child(theme, "animateIconify").text = "no"
    for font_element in theme.findall(f"{{{NS}}}font"):  # titles and on-screen popups bold, menus not
        _child(font_element, "name").text = family
        _child(font_element, "size").text = str(size)
        _child(font_element, "weight").text = "normal" if font_element.get("place", "").startswith("Menu") else "bold"
    desktops = _child(root, "desktops")
    _child(desktops, "number").text = "1"
    _child(desktops, "popupTime").text = "0"
    placement = _child(root, "placement")
    _child(placement, "policy").text = "Smart"
    _child(placement, "center").text = "yes"
    root.remove(_child(root, "applications"))
    root.append(_application_rules(natural_size))
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="UTF-8", xml_declaration=True)
    return path


def write_theme(folder: Path) -> Path:
    """Write the window theme into folder/THEME_NAME/openbox-3 (themerc and button bitmaps); return it."""
    theme = folder / THEME_NAME / "openbox-3"
    theme.mkdir(parents=True, exist_ok=True)
    (theme / "themerc").write_text(THEMERC)
    for name, rows in BUTTONS.items():
        (theme / f"{name}.xbm").write_text(_xbm(name, rows))
    return theme


def _application_rules(natural_size: tuple[str, ...]) -> ET.Element:
    """<applications>: ordinary windows maximised; natural_size classes at their own size, centred."""
    rules = ET.Element(f"{{{NS}}}applications")
    maximised = ET.SubElement(rules, f"{{{NS}}}application", {"class": "*", "type": "normal"})
    ET.SubElement(maximised, f"{{{NS}}}maximized").text = "yes"
    for wm_class in natural_size:  # later rules win over earlier ones
        rule = ET.SubElement(rules, f"{{{NS}}}application", {"class": wm_class, "type": "normal"})
        ET.SubElement(rule, f"{{{NS}}}maximized").text = "no"
        position = ET.SubElement(rule, f"{{{NS}}}position", {"force": "yes"})
        ET.SubElement(position, f"{{{NS}}}x").text = "center"
        ET.SubElement(position, f"{{{NS}}}y").text = "center"
    return rules


def _child(parent: ET.Element, tag: str) -> ET.Element:
    """parent's first <tag> child, created when missing."""
    found = parent.find(f"{{{NS}}}{tag}")
    return found if found is not None else ET.SubElement(parent, f"{{{NS}}}{tag}")


def _split_font(font: str) -> tuple[str, int]:
    """'Cantarell 11' -> ('Cantarell', 11)."""
    family, _, size = font.rpartition(" ")
    return family, int(size)


def _xbm(name: str, rows: list[str]) -> str:
    """rows of '#'/' ' as an X bitmap (XBM) file; bit 0 of each byte is the leftmost pixel."""
    width, values = len(rows[0]), []
    for row in rows:
        for start in range(0, width, 8):
            chunk = row[start:start + 8]
            values.append(sum(1 << bit for bit, pixel in enumerate(chunk) if pixel not in " ."))
    data = ", ".join(f"0x{value:02x}" for value in values)
    return (f"#define {name}_width {width}\n#define {name}_height {len(rows)}\n"
            f"static unsigned char {name}_bits[] = {{ {data} }};\n")
