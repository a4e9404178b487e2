"""Helpers for tests that stand in for a user at a terminal."""
from __future__ import annotations

import signal


def sigint_as_in_a_terminal() -> None:
    """Popen preexec_fn: the child handles Ctrl-C (SIGINT) as when started from a terminal, even when the
    tests themselves run under a parent that ignores SIGINT (nohup, a shell's background job), whose
    ignored disposition a child would otherwise inherit, and Python would then never raise
    KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
