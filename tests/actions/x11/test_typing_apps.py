"""`type` delivers exact text to every kind of application, as key events, never via the clipboard.

The same string (all of printable ASCII, accents, symbols, CJK) is typed into a terminal (xterm),
a GTK 3 entry (zenity), GTK 3 / GTK 4 / Qt 5 text editors (mousepad, gnome-text-editor,
featherpad) and a spreadsheet cell (gnumeric), and read back from the application's own output: the
file it saved, or what it printed. The clipboard holds a sentinel throughout and must still hold it.
"""
from __future__ import annotations

import csv
import gzip
import io
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from actions import action_from_dict
from tests.actions.x11.desktop_harness import find_window, wait_for, wait_until_drawn

pytestmark = pytest.mark.desktop

# Every printable ASCII character, then accents, symbols and CJK that no keymap holds.
ALL_TEXT = "".join(map(chr, range(0x20, 0x7F))) + " héllo wörld Ærø ñ € → 世界 漢字 ✓ Ωmega"


def act(executor, **arguments) -> None:
    executor.execute(action_from_dict(arguments))


def clipboard(desktop) -> str:
    done = subprocess.run(["xclip", "-selection", "clipboard", "-o"], env=desktop.env(), capture_output=True, text=True, timeout=10)
    return done.stdout


def own_clipboard(desktop, text: str) -> None:
    subprocess.run(["xclip", "-selection", "clipboard", "-i"], input=text, text=True, env=desktop.env(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=True)


def focus(desktop, title: str) -> str:
    """Wait for a visible window titled like `title` to be drawn, then give it the keyboard focus."""
    window = find_window(desktop, title)
    wait_until_drawn(desktop, window)
    desktop.run("xdotool", "windowactivate", "--sync", window)
    return window


def needs(program: str) -> None:
    if shutil.which(program) is None:
        pytest.skip(f"needs {program} (./install.sh installs it)")


def app_env(home: Path) -> dict[str, str]:
    """A throw-away HOME and settings, no accessibility bus."""
    return dict(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
                XDG_CACHE_HOME=str(home / "cache"), GSETTINGS_BACKEND="memory", NO_AT_BRIDGE="1", GTK_A11Y="none")


def save_and_read(desktop, window: str, path: Path, expected: str) -> str:
    """Ctrl+S (sent by xdotool, not the executor), then the file once it holds `expected` (or after 15 s)."""
    before = path.stat().st_mtime_ns
    desktop.run("xdotool", "windowactivate", "--sync", window)
    desktop.run("xdotool", "key", "--clearmodifiers", "ctrl+s")
    wait_for(lambda: path.stat().st_mtime_ns != before)
    # A save may write the file in more than one go: wait for the whole text, then compare.
    wait_for(lambda: path.read_text(encoding="utf-8").rstrip("\n") == expected)
    return path.read_text(encoding="utf-8").rstrip("\n")


def test_type_all_printable_ascii_and_non_ascii_into_mousepad_without_the_clipboard(executor, mousepad, desktop):
    app = mousepad("")
    own_clipboard(desktop, "sentinel")
    act(executor, action="type", text=ALL_TEXT)
    assert app.saved_text().rstrip("\n") == ALL_TEXT
    assert clipboard(desktop) == "sentinel"


@pytest.mark.parametrize("editor, argv", [
    ("featherpad", ["featherpad"]),  # Qt 5 (QPlainTextEdit)
    ("gnome-text-editor", ["gnome-text-editor", "--standalone"]),  # GTK 4 (GtkSourceView 5, libadwaita)
])
def test_type_all_text_into_a_qt_or_gtk4_editor(executor, desktop, tmp_path, editor, argv):
    needs(editor)
    own_clipboard(desktop, "sentinel")
    path = tmp_path / f"typed-in-{editor}.txt"  # a name no other test's window has
    path.write_text("", encoding="utf-8")
    process = desktop.start(*argv, str(path), **app_env(tmp_path / "home"))
    try:
        window = focus(desktop, f"typed-in-{editor}")
        act(executor, action="type", text=ALL_TEXT)
        saved = save_and_read(desktop, window, path, ALL_TEXT)
    finally:
        process.kill()
        process.wait()
    assert saved == ALL_TEXT
    assert clipboard(desktop) == "sentinel"


def test_type_all_text_into_a_gtk_entry(executor, desktop):
    needs("zenity")
    own_clipboard(desktop, "sentinel")
    zenity = subprocess.Popen(["zenity", "--entry", "--title", "Entry test", "--text", "Type here"],
                              env=desktop.env(NO_AT_BRIDGE="1", GSETTINGS_BACKEND="memory"),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        focus(desktop, "Entry test")
        act(executor, action="type", text=ALL_TEXT)
        act(executor, action="key", keys=["enter"])  # OK: zenity prints the entry's text
        out, _ = zenity.communicate(timeout=15)
    finally:
        zenity.kill()
        zenity.wait()
    assert out.rstrip("\n") == ALL_TEXT
    assert clipboard(desktop) == "sentinel"


def test_type_all_text_into_xterm(executor, desktop, tmp_path):
    needs("xterm")
    own_clipboard(desktop, "sentinel")
    target = tmp_path / "typed.txt"
    xterm = desktop.start("xterm", "-title", "Typing test", "-e", "sh", "-c", f"cat > {target}",
                          LANG="C.UTF-8", LC_ALL="C.UTF-8")
    try:
        focus(desktop, "Typing test")
        act(executor, action="type", text=ALL_TEXT + "\n")
        act(executor, action="key", keys=["ctrl", "d"])  # end of input: cat exits, xterm closes
        xterm.wait(timeout=15)
    finally:
        xterm.kill()
    assert target.read_text(encoding="utf-8") == ALL_TEXT + "\n"
    assert clipboard(desktop) == "sentinel"


GNUMERIC_NS = {"gnm": "http://www.gnumeric.org/v10.dtd"}


def _cells(book: Path) -> dict[tuple[int, int], ElementTree.Element]:
    """(row, column) -> the saved cell: a formula has an ExprID and its text, a value a ValueType."""
    root = ElementTree.fromstring(gzip.decompress(book.read_bytes()))
    return {(int(cell.get("Row")), int(cell.get("Col"))): cell
            for cell in root.iterfind(".//gnm:Cells/gnm:Cell", GNUMERIC_NS)}


def test_typed_formula_and_text_become_spreadsheet_cells(executor, desktop, tmp_path):
    needs("gnumeric")
    needs("ssconvert")
    env = app_env(tmp_path / "home")
    book = tmp_path / "book.gnumeric"
    (tmp_path / "empty.csv").write_text("\n")
    subprocess.run(["ssconvert", str(tmp_path / "empty.csv"), str(book)], env=desktop.env(**env),
                   capture_output=True, timeout=60, check=True)
    own_clipboard(desktop, "sentinel")
    process = desktop.start("gnumeric", "--no-splash", str(book), **env)
    try:
        window = focus(desktop, r"^book\.gnumeric - Gnumeric$")
        before = book.stat().st_mtime_ns
        act(executor, action="type", text="1\n2\n3\n=SUM(A1:A3)*2\n")  # Enter moves down a row
        act(executor, action="key", keys=["ctrl", "home"])
        act(executor, action="key", keys=["right"])  # B1
        act(executor, action="type", text=ALL_TEXT + "\n")
        desktop.run("xdotool", "windowactivate", "--sync", window)
        desktop.run("xdotool", "key", "--clearmodifiers", "ctrl+s")
        assert wait_for(lambda: book.stat().st_mtime_ns != before and not _title(desktop, window).startswith("*"))
    finally:
        process.kill()
        process.wait()
    formula = _cells(book)[(3, 0)]
    assert (formula.text or "").upper() == "=SUM(A1:A3)*2"
    assert "ExprID" in formula.attrib and "ValueType" not in formula.attrib  # an expression, not a text cell
    exported = subprocess.run(["ssconvert", "--export-type=Gnumeric_stf:stf_csv", str(book), "fd://1"],
                              env=desktop.env(**env), capture_output=True, text=True, timeout=60, check=True)
    rows = list(csv.reader(io.StringIO(exported.stdout)))
    assert [row[0] for row in rows] == ["1", "2", "3", "12"]  # the formula was computed
    assert rows[0][1] == ALL_TEXT
    assert clipboard(desktop) == "sentinel"


def _title(desktop, window: str) -> str:
    return desktop.run("xdotool", "getwindowname", window).strip()
