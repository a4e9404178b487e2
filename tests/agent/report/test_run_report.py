"""`agent report`: one self-contained HTML file per run."""
from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from agent.errors import NotARunError
from agent.report.run_report import write_report
from tests.agent.trace.recorded_runs import TRICKY_OUTPUT

IMAGE = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def embedded_images(html: str) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(data))) for data in IMAGE.findall(html)]


@pytest.mark.parametrize("status", ["done", "gave_up"])
def test_a_run_without_checks_is_reported_as_done_or_gave_up_not_success(tmp_path, status):
    from tests.agent.trace.recorded_runs import unchecked_run

    html = write_report(unchecked_run(tmp_path / "runs", status), None).read_text(encoding="utf-8")
    assert f'class="status {status}"' in html and 'class="status success"' not in html


def test_success_report_has_escaped_output_images_and_checks(runs):
    path = write_report(runs["success"], None)
    assert path == runs["success"] / "report.html"
    html = path.read_text(encoding="utf-8")
    assert "&lt;b&gt;Edit&lt;/b&gt; menu &amp; then" in html and "<b>Edit</b>" not in html
    assert "&lt;tool_call&gt;" in html and "<tool_call>" not in html
    assert "hello &lt;world&gt; &amp; co" in html
    assert 'class="status success"' in html
    assert "✔ pass" in html and "found &lt;Mousepad Preferences&gt;" in html
    images = embedded_images(html)
    assert len(images) == 3 and all(img.format == "PNG" and img.size == (320, 200) for img in images)
    # The click of step 0 is drawn: red marker pixels near (160, 60), none in the raw screenshot.
    marked = images[0].convert("RGB")
    raw = Image.open(runs["success"] / "step_0000.png").convert("RGB")
    ring = [(160 + dx, 60) for dx in range(-12, 13)]
    assert any(marked.getpixel(p)[0] > 200 and marked.getpixel(p)[1] < 90 for p in ring)
    assert not any(raw.getpixel(p)[0] > 200 and raw.getpixel(p)[1] < 90 for p in ring)
    assert "src=" in html and "http" not in html.replace("http-equiv", "")  # nothing fetched from elsewhere
    assert TRICKY_OUTPUT not in html


def test_failure_report_shows_failed_check_and_parse_error(runs, tmp_path: Path):
    out = write_report(runs["failure"], tmp_path / "out" / "failure.html")
    html = out.read_text(encoding="utf-8")
    assert 'class="status failure"' in html
    assert "✘ fail" in html and "display shows 42" in html and "the model gave up" in html
    assert "parse error:</b> no &lt;tool_call&gt; found" in html
    assert "I would click the &lt;button&gt; now" in html
    assert len(embedded_images(html)) == 4


def test_crashed_report_marks_the_damage(runs):
    html = write_report(runs["crashed"], None).read_text(encoding="utf-8")
    assert "No result: the run is still going or was killed." in html
    assert "killed (no result.json)" in html
    assert "Screenshot step_0001.png is missing" in html
    assert "gpu_temp_c" in html and "truncated" in html
    assert len(embedded_images(html)) == 1


def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path):
    with pytest.raises(NotARunError, match="not a run folder"):
        write_report(tmp_path, None)
    with pytest.raises(NotARunError, match="not a folder"):
        write_report(tmp_path / "absent", None)


def test_a_corrupt_screenshot_is_reported_in_place(runs):
    (runs["success"] / "step_0002.png").write_bytes(b"not a png")
    html = write_report(runs["success"], None).read_text(encoding="utf-8")
    assert "Screenshot step_0002.png is missing or unreadable." in html
    assert len(embedded_images(html)) == 2
