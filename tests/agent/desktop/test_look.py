"""The desktop's look: what `dress` writes (openbox, theme, panels, GTK, wallpaper) and, on a real sandbox,
that windows are maximised beside the panels, a calculator keeps its size in the middle, the wallpaper
and panel are on screen at both supported sizes, and the pointer starts over nothing."""
from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import get_args

import pytest
from PIL import Image, ImageChops

from agent.desktop import Sandbox, Screen
from agent.desktop.look import LOOK_PACKAGES, LOOKS, dress, require_look_packages
from agent.desktop.look.openbox import NS, THEME_NAME, write_rc
from agent.desktop.look.panels import PANEL_WINDOW_NAME, installed_launchers
from agent.errors import DisplayError, SandboxError, TaskError
from agent.tasks import SandboxSpec, load_task
from agent.tasks.schema import LookName

SIZES = [(1280, 800), (1920, 1080)]


def _tint2rc(path: Path) -> dict[str, list[str]]:
    """key -> every value it has in a tint2rc (keys such as launcher_item_app repeat)."""
    values: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(" = ")
        values.setdefault(key, []).append(value)
    return values


def test_the_table_of_looks_is_the_list_task_files_may_name():
    assert sorted(LOOKS) == sorted(get_args(LookName))
    assert SandboxSpec().look == "taskbar"
    assert all(name == look.name for name, look in LOOKS.items())


def test_a_task_file_picks_a_look_and_an_unknown_one_is_named(tmp_path):
    task = tmp_path / "t.yaml"
    base = "id: t\ninstruction: do it\nchecks: {items: [{title: x}]}\nsandbox:\n  width: 1920\n  height: 1080\n"
    task.write_text(base + "  look: gnome\n")
    assert load_task(task).sandbox.look == "gnome"
    task.write_text(base + "  look: kde\n")
    with pytest.raises(TaskError, match=r"sandbox\.look") as caught:
        load_task(task)
    assert "taskbar" in str(caught.value) and "gnome" in str(caught.value)


@pytest.mark.parametrize("width,height", SIZES)
@pytest.mark.parametrize("name", sorted(LOOKS))
def test_dress_writes_the_files_a_person_s_desktop_keeps(tmp_path, name, width, height):
    look = LOOKS[name]
    dressing = dress(look, tmp_path, width, height, app_home=Path("/home/someone"))
    rc = ET.parse(tmp_path / ".config/openbox/rc.xml").getroot()
    assert rc.find(f"{{{NS}}}theme/{{{NS}}}name").text == THEME_NAME
    assert rc.find(f"{{{NS}}}desktops/{{{NS}}}number").text == "1"
    assert rc.find(f"{{{NS}}}mouse") is not None and rc.find(f"{{{NS}}}keyboard") is not None  # the defaults stay
    rules = rc.findall(f"{{{NS}}}applications/{{{NS}}}application")
    everything = rules[0]
    assert (everything.get("class"), everything.get("type")) == ("*", "normal")
    assert everything.find(f"{{{NS}}}maximized").text == "yes"
    assert [rule.get("class") for rule in rules[1:]] == list(look.natural_size)
    theme = tmp_path / f".local/share/themes/{THEME_NAME}/openbox-3"
    assert "window.active.title.bg.color" in (theme / "themerc").read_text()
    assert (theme / "close.xbm").read_text().startswith("#define close_width 10")
    for settings in (".config/gtk-3.0/settings.ini", ".config/gtk-4.0/settings.ini", ".gtkrc-2.0"):
        text = (tmp_path / settings).read_text()
        assert look.theme in text and look.font in text and "cursor-blink" in text
    with Image.open(tmp_path / dressing.wallpaper) as picture:
        assert picture.size == (width // 4, height // 4)  # hsetroot -fill stretches it
    assert len(dressing.panels) == len(look.panels)
    assert dressing.env["QT_STYLE_OVERRIDE"] == look.qt_style
    assert dressing.env["XENVIRONMENT"] == "/home/someone/.Xresources"
    assert "XTerm*faceName: DejaVu Sans Mono" in (tmp_path / ".Xresources").read_text()
    x, y, free_width, free_height = dressing.work_area
    assert 0 <= x < width // 10 and 0 <= y < height // 10 and free_width > 0.9 * width and free_height > 0.9 * height
    px, py = dressing.pointer
    assert 0 < px < width and 0 < py < height
    assert not (x <= px < x + free_width and y <= py < y + free_height)  # on a panel, not over a window
    for panel, path in zip(look.panels, dressing.panels):
        config = _tint2rc(tmp_path / path)
        assert config["panel_window_name"] == [PANEL_WINDOW_NAME] and config["strut_policy"] == ["follow_size"]
        assert config.get("launcher_item_app", []) == installed_launchers(panel.launchers)
        assert all(Path(icon).parent == Path("/home/someone/.local/share/desktop-look/icons")
                   for icon in config.get("button_icon", []) if icon.endswith(".svg"))


def test_only_installed_apps_get_a_launcher(tmp_path):
    (tmp_path / "b.desktop").write_text("[Desktop Entry]\n")
    assert installed_launchers(("a.desktop", "b.desktop"), applications=tmp_path) == ["b.desktop"]


def test_the_wallpaper_is_smooth_and_the_same_every_time():
    for look in LOOKS.values():
        picture = look.wallpaper.render(640, 400)
        assert picture.tobytes() == look.wallpaper.render(640, 400).tobytes()
        # No seam anywhere: neighbouring pixels differ by a few levels at most (a glow's edge would show as a jump).
        for shifted in (picture.crop((1, 0, 640, 400)), picture.crop((0, 1, 640, 400))):
            steps = ImageChops.difference(picture.crop((0, 0) + shifted.size), shifted)
            assert max(high for _, high in steps.getextrema()) <= 3
    taskbar, gnome = (LOOKS[name].wallpaper.render(64, 40) for name in ("taskbar", "gnome"))
    assert taskbar.tobytes() != gnome.tobytes()


def test_missing_theme_packages_are_named_with_the_command_that_installs_them(tmp_path):
    with pytest.raises(DisplayError, match="apt-get install gnome-themes-extra adwaita-icon-theme fonts-cantarell "
                                           "adwaita-qt"):
        require_look_packages(tmp_path)
    for patterns in LOOK_PACKAGES.values():
        path = tmp_path / patterns[0].lstrip("/").replace("*", "x86_64-linux-gnu")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    require_look_packages(tmp_path)


def test_a_broken_openbox_default_configuration_is_named(tmp_path):
    broken = tmp_path / "rc.xml"
    broken.write_text("<openbox_config>")
    with pytest.raises(SandboxError, match=f"{broken}.*reinstall"):
        write_rc(tmp_path / "out.xml", font="Cantarell 11", natural_size=(), source=broken)


# -- on a real sandbox --------------------------------------------------------------------------

def _work_area(sandbox: Sandbox) -> tuple[int, ...]:
    out = sandbox.run("xprop -root -notype _NET_WORKAREA").stdout
    return tuple(int(v) for v in out.partition("=")[2].split(",")[:4])


def _client_box(sandbox: Sandbox, regex: str) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the one visible window titled like regex, as xwininfo measures it."""
    [window] = sandbox.run(f"xdotool search --onlyvisible --name '{regex}'").stdout.split()
    info = dict(line.strip().split(": ", 1) for line in sandbox.run(f"xwininfo -id {window}").stdout.splitlines()
                if ": " in line)
    return (int(info["Absolute upper-left X"]), int(info["Absolute upper-left Y"]), int(info["Width"]),
            int(info["Height"]))


def _capture(sandbox: Sandbox) -> Image.Image:
    screen = Screen(sandbox.display, xauthority=sandbox.env["XAUTHORITY"])
    try:
        return screen.capture()[0]
    finally:
        screen.close()


@pytest.mark.desktop
@pytest.mark.slow
@pytest.mark.parametrize("width,height", SIZES)
@pytest.mark.parametrize("name", sorted(LOOKS))
def test_windows_are_maximised_beside_the_panels_and_a_calculator_keeps_its_size(name, width, height):
    spec = SandboxSpec(width=width, height=height, look=name, apps=["mousepad", "sleep 1; exec galculator"],
                       wait_windows=["Mousepad$", "^galculator$"], timeout=60)
    with Sandbox(spec) as sandbox:
        area = _work_area(sandbox)
        x, y, free_width, free_height = area
        assert area != (0, 0, width, height) and free_width > 0.9 * width and free_height > 0.9 * height
        editor = _client_box(sandbox, "Mousepad$")
        ex, ey, ew, eh = editor  # the client area: the title bar is above it, inside the work area
        assert abs(ex - x) <= 2 and abs(ew - free_width) <= 4, (editor, area)
        assert y < ey < y + 60 and abs((ey + eh) - (y + free_height)) <= 4, (editor, area)
        calculator = _client_box(sandbox, "^galculator$")
        cx, cy, cw, ch = calculator
        assert cw < free_width / 2 and ch < free_height
        assert abs((cx + cw / 2) - (x + free_width / 2)) <= 4  # centred across the work area
        assert sandbox.window_titles() and all(title.strip() for title in sandbox.window_titles())
        assert not any("tint2" in title for title in sandbox.window_titles())
        pointer = dict(item.split(":") for item in sandbox.run("xdotool getmouselocation").stdout.split()[:2])
        px, py = int(pointer["x"]), int(pointer["y"])
        assert not (x <= px < x + free_width and y <= py < y + free_height)  # resting on a panel
        shot = _capture(sandbox)
        assert shot.size == (width, height)
        # The panel strip is the panels' dark grey; the screen has many colours (wallpaper, themes), not black.
        panel = shot.getpixel((px, py))
        assert max(panel) < 80 and max(abs(a - b) for a, b in zip(panel, (29, 29, 29))) <= 24, panel
        assert len(shot.resize((width // 8, height // 8)).getcolors(maxcolors=1 << 16) or range(1 << 16)) > 200


@pytest.mark.desktop
def test_a_sandbox_without_a_spec_is_dressed_too():
    with Sandbox(width=800, height=600, look="gnome") as sandbox:
        assert _work_area(sandbox) == (64, 32, 736, 568)
        assert sandbox.window_titles() == []  # the panels' windows are not among the apps' windows
        done = subprocess.run(["xdotool", "search", "--onlyvisible", "--class", "tint2"], env=sandbox.env,
                              capture_output=True, text=True, timeout=10)
        assert len(done.stdout.split()) == 2  # the top bar and the dock
