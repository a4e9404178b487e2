"""The documentation stays true to the tree: the module map is current, every module has a docstring,
links and paths in README.md and docs/ point at files that exist, and the README stays a short map."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
TOP_FOLDERS = ("actions", "agent", "model", "examples", "tasks", "tests", "docs")
# Paths the documentation names on purpose although they do not exist (an example of your own).
HYPOTHETICAL = {"tasks/suites/mousepad.yaml"}


def _module_map():
    spec = importlib.util.spec_from_file_location("module_map", REPO / "docs" / "module_map.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page_id(page: Path) -> str:
    return page.relative_to(REPO).as_posix()


def _without_code(text: str) -> str:
    """Markdown text with fenced blocks removed and inline code reduced to a placeholder."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "code", text)


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown page (lower case, punctuation dropped, spaces to '-')."""
    found, seen = set(), {}
    for line in re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M).splitlines():
        if match := re.match(r"#{1,6} (.+)", line):
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def test_module_map_is_current():
    done = subprocess.run([sys.executable, "docs/module_map.py", "--check"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_module_has_a_docstring():
    missing = _module_map().missing_docstrings(REPO)
    assert not missing, ("modules without a docstring (its first sentence is the module's line in "
                         f"docs/architecture.md): {missing}")


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_relative_links_point_at_files_that_exist(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _without_code(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto: …
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no file {file.relative_to(REPO) if file.is_relative_to(REPO) else file})")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target} (no heading with that anchor in {file.relative_to(REPO)})")
    assert not broken, f"{_page_id(page)}: broken links: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_paths_named_in_the_text_exist(page):
    text = _without_generated_map(page.read_text(encoding="utf-8"))
    pattern = r"(?<![\w/.~-])((?:%s)/[\w./-]*)" % "|".join(TOP_FOLDERS)
    named = {match.rstrip(".") for match in re.findall(pattern, text)}
    missing = sorted(path for path in named - HYPOTHETICAL if not (REPO / path).exists())
    assert not missing, f"{_page_id(page)} names paths that do not exist (moved?): {missing}"


def _without_generated_map(text: str) -> str:
    """text less the module map, whose lines quote docstrings (their paths are the modules' business)."""
    return re.sub(r"<!-- module-map:start.*?<!-- module-map:end -->", "", text, flags=re.S)


def _layout_tree() -> list[str]:
    """The folders of the README's Layout tree, as paths ("agent/commands")."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"\n## Layout\n.*?\n```\n(.*?)\n```", text, flags=re.S).group(1)
    folders, stack = [], []
    for line in block.splitlines():
        indent = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0].rstrip("/")
        stack[indent:] = [name]
        folders.append("/".join(stack))
    return folders


def test_readme_layout_has_a_line_for_every_folder_and_no_other():
    listed = _layout_tree()
    missing_on_disk = [folder for folder in listed if not (REPO / folder).is_dir()]
    assert not missing_on_disk, f"README's Layout names folders that do not exist: {missing_on_disk}"
    expected = {init.parent.relative_to(REPO).as_posix()
                for top in ("actions", "agent", "model") for init in (REPO / top).rglob("__init__.py")}
    expected |= {"tasks", "examples", "tests", "docs"}
    expected |= {p.relative_to(REPO).as_posix() for p in (REPO / "examples").iterdir()
                 if p.is_dir() and p.name != "__pycache__"}
    unlisted = sorted(expected - set(listed))
    assert not unlisted, f"README's Layout has no line for these folders: {unlisted}"


def test_quick_start_keeps_its_two_commands_and_ci_runs_the_second():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for command in ("./install.sh && .venv/bin/agent run tasks/open_settings.yaml --policy scripted",
                    "./install.sh && .venv/bin/pytest"):
        assert f"\n{command}\n" in readme, f"README's Quick start lost the command: {command}"
    assert "\n./install.sh && .venv/bin/pytest\n" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_stays_a_map():
    lines = (REPO / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 250, f"README.md has {lines} lines; move the detail to docs/ and link it (at most 250)"
