"""User mistakes and hostile files met by `agent validate`, `agent run`, `agent report` and `agent view`:
each ends in a one-paragraph message naming the file or value, exit status 2, no traceback.

Each row is what a person actually typed; the fuzz tests feed random and mutated task files to the
loader (only TaskError may come out) and to `agent validate` (exit 0 or 2, every file reported).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from agent.cli import app
from agent.errors import TaskError
from agent.tasks import load_task
from agent.tasks.validate import UNCHECKABLE
from agent.tasks.yaml_reader import MAX_TASK_BYTES
from tests.helpers import REPO

GOOD = (REPO / "tasks" / "open_settings.yaml").read_bytes()
SHIPPED = [p.read_bytes() for p in sorted((REPO / "tasks").glob("*.yaml"))]


def _laughs() -> bytes:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return "\n".join(lines).encode()


# name -> (file content, or a callable making the file at a path; words the message must contain)
BAD_TASK_FILES = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), ["binary", "NUL"]),
    "not UTF-8": (GOOD.replace(b"Mousepad", "Mousépad".encode("latin-1"), 1), ["not UTF-8", "0xe9", "line", "save the file as UTF-8"]),
    "100,000-deep nesting": (b"id: x\nnested: " + b"[" * 100_000 + b"]" * 100_000, ["nested too deeply"]),
    "100,000-deep block nesting": (b"id: x\nn:\n" + b"".join(b" " * i + b"- \n" for i in range(1, 1200)), ["nested"]),
    "alias bomb": (_laughs(), ["expands to more than", "aliases"]),
    "self-referencing alias": (b"a: &a [*a, *a]\n", ["nested more than", "alias refers to itself"]),
    "too large": (b"id: x\n" + b"#" * (MAX_TASK_BYTES + 10), ["too large"]),
    "empty": (b"", ["expected a mapping", "the file is empty"]),
    "a list": (b"- id: x\n", ["expected a mapping", "list"]),
    "malformed YAML": (b"id: x\ninstruction: [unclosed\n", ["malformed YAML", "line"]),
    "a python tag": (b"id: !!python/object/apply:os.system ['touch /tmp/pwned']\n", ["malformed YAML"]),
    "a FIFO": (lambda path: os.mkfifo(path), ["not a regular file"]),
}

runner = CliRunner()


def _make(tmp_path: Path, name: str) -> Path:
    content, _ = BAD_TASK_FILES[name]
    path = tmp_path / (name.replace(" ", "_").replace(",", "") + ".yaml")
    if callable(content):
        content(path)
    else:
        path.write_bytes(content)
    return path


def _invoke(*args: str):
    result = runner.invoke(app, list(args))
    output = result.output
    assert "Traceback" not in output and (result.exception is None or isinstance(result.exception, SystemExit)), (
        output, result.exception)
    return result.exit_code, output


@pytest.mark.timeout(120)  # a FIFO must never be opened for reading: that would hang
@pytest.mark.parametrize("name", BAD_TASK_FILES)
def test_a_bad_task_file_is_one_clear_error_with_exit_2(tmp_path, name):
    path = _make(tmp_path, name)
    with pytest.raises(TaskError) as caught:
        load_task(path)
    message = str(caught.value)
    assert str(path) in message and all(w in message for w in BAD_TASK_FILES[name][1]), message
    assert len(message) < 600
    code, output = _invoke("validate", str(path))
    assert code == 2 and str(path) in output, output


def test_validate_reports_every_file_of_a_folder(tmp_path):
    made = [_make(tmp_path, name) for name in BAD_TASK_FILES]
    (tmp_path / "good.yaml").write_bytes(GOOD)
    code, output = _invoke("validate", str(tmp_path))
    assert code == 2
    assert f"ok {tmp_path / 'good.yaml'}" in output
    regular = [p for p in made if p.is_file()]  # a folder walk lists files only, not the FIFO
    assert all(f"error {p}:" in output for p in regular), output
    assert UNCHECKABLE not in output


def test_run_refuses_a_bad_task_file_before_starting_anything(tmp_path):
    path = _make(tmp_path, "binary")
    code, output = _invoke("run", str(path), "--policy", "scripted", "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and "binary" in output and str(path) in output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.fixture
def run_dir(tmp_path) -> Path:
    from tests.agent.trace.recorded_runs import success_run

    return success_run(tmp_path / "runs")


def test_report_into_a_folder_writes_run_id_html_there(tmp_path, run_dir):
    folder = tmp_path / "reports"
    folder.mkdir()
    code, output = _invoke("report", str(run_dir), "-o", str(folder))
    assert code == 0 and (folder / f"{run_dir.name}.html").is_file(), output


def test_report_under_a_file_names_the_file_in_the_way(tmp_path, run_dir):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    code, output = _invoke("report", str(run_dir), "-o", str(blocker / "r.html"))
    assert code == 2 and f"{blocker} is a file, not a folder" in output, output


def test_view_of_a_missing_folder_says_how_to_get_runs(tmp_path):
    code, output = _invoke("view", str(tmp_path / "runs"))
    assert code == 2 and "does not exist" in output and "agent run" in output, output


def test_the_installed_command_prints_no_traceback_either(tmp_path):
    path = _make(tmp_path, "100,000-deep nesting")
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "validate", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "nested too deeply" in proc.stdout, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


# ---- fuzz: random and mutated task files --------------------------------------------------------

NOISE = [b"[", b"]", b"{", b"}", b": ", b"- ", b"&a ", b"*a", b"!!python/object:os.system ", b"!!binary ", b"\t",
         b"\n", b"\n  ", b"? ", b"|\n", b">-\n", b"'", b'"', b" #", b"---\n", b"...\n", b"%YAML 1.1\n", b"\xff",
         b"\x00", b"\xef\xbb\xbf", b"{home}/../../", b"/etc/passwd", b"1e999", b"-1", b"null", b"~", b"<<: *a\n"]
mutations = st.lists(
    st.tuples(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=40),
              st.one_of(st.sampled_from(NOISE), st.binary(max_size=6))),
    min_size=1, max_size=8,
)


def _mutate(base: bytes, edits) -> bytes:
    data = base
    for at, cut, insert in edits:
        at = at % (len(data) + 1)
        data = data[:at] + insert + data[at + cut:]
    return data


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.one_of(st.binary(max_size=400), st.tuples(st.sampled_from(SHIPPED), mutations).map(lambda a: _mutate(*a))))
def test_a_random_or_mutated_task_file_raises_nothing_but_task_error(tmp_path, data):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    try:
        load_task(path)
    except TaskError as exc:
        assert str(path) in str(exc)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(SHIPPED), mutations).map(lambda a: _mutate(*a)), min_size=1, max_size=4))
def test_validate_on_a_folder_of_mutated_files_reports_each_one(tmp_path, files):
    folder = tmp_path / f"suite-{os.urandom(4).hex()}"
    folder.mkdir()
    paths = []
    for index, data in enumerate(files):
        paths.append(folder / f"t{index}.yaml")
        paths[-1].write_bytes(data)
    code, output = _invoke("validate", str(folder))
    assert code in (0, 2) and UNCHECKABLE not in output, output
    assert all(str(p) in output for p in paths), output
