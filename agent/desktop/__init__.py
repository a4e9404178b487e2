"""Where a run happens: a private sandbox desktop or the person's own X11 display, and its screen.

The Desktop seam (base.py) is what a run drives: `Sandbox` (a task's private Xvfb desktop with its own
user, session bus and apps) or `LiveDesktop`; `Screen` captures either with mss.
"""
from agent.desktop.base import Desktop, sandbox_for, start_desktop
from agent.desktop.live import LiveDesktop
from agent.desktop.sandbox import Sandbox
from agent.desktop.screen import Screen

__all__ = ["Desktop", "LiveDesktop", "Sandbox", "Screen", "sandbox_for", "start_desktop"]
