"""install.sh waits (bounded, saying so) while another apt/dpkg holds the package lock."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.helpers import REPO

FAKE_APT = """#!/bin/bash
n=$(cat "$COUNT" 2>/dev/null || echo 0); echo $((n + 1)) > "$COUNT"
if [ "$n" -lt "$LOCKED_TIMES" ]; then
  echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (apt-get)" >&2; exit 100
fi
[ "$FAIL_OTHERWISE" = 1 ] && { echo "E: Unable to locate package nosuchpkg" >&2; exit 100; }
exit 0
"""


def _run_lock_wait(tmp_path: Path, locked_times: int, wait_s: int, fail_otherwise: bool = False):
    """Run install.sh's apt_waiting_for_lock against a fake apt-get; sleep is instant."""
    script = (REPO / "install.sh").read_text()
    function = re.search(r"^apt_waiting_for_lock\(\) \{.*?^\}", script, re.S | re.M).group(0)
    (tmp_path / "apt-get").write_text(FAKE_APT)
    (tmp_path / "apt-get").chmod(0o755)
    body = f"{function}\nsleep() {{ SECONDS=$((SECONDS + $1)); }}\napt_waiting_for_lock apt-get install x"
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "COUNT": str(tmp_path / "count"), "LOCKED_TIMES": str(locked_times),
           "APT_LOCK_WAIT_S": str(wait_s), "FAIL_OTHERWISE": "1" if fail_otherwise else "0"}
    return subprocess.run(["bash", "-c", body], env=env, capture_output=True, text=True, timeout=60)


def test_a_held_lock_is_waited_for_with_a_message(tmp_path):
    done = _run_lock_wait(tmp_path, locked_times=3, wait_s=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("another apt/dpkg holds the package lock") == 3
    assert (tmp_path / "count").read_text().strip() == "4"


def test_the_wait_is_bounded_and_says_what_to_do(tmp_path):
    done = _run_lock_wait(tmp_path, locked_times=1000, wait_s=30)
    assert done.returncode == 1
    assert "still held after 30s" in done.stderr and "APT_LOCK_WAIT_S" in done.stderr
    assert int((tmp_path / "count").read_text()) <= 5


def test_other_apt_errors_are_shown_at_once(tmp_path):
    done = _run_lock_wait(tmp_path, locked_times=0, wait_s=600, fail_otherwise=True)
    assert done.returncode == 1 and "Unable to locate package nosuchpkg" in done.stderr
    assert "lock" not in done.stdout
