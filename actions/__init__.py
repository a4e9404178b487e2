"""The action layer: schemas, parsers of model text, coordinate mapping, executors.

It knows nothing of models or tasks. `PyAutoGUIExecutor` imports pyautogui only when one is
created, so importing this package stays cheap (no pyautogui, no X connection).
"""
from actions.coords import (
    COORDINATE_NAMES,
    GRID_999,
    GRID_1000,
    CoordinateSystem,
    ScreenGeometry,
    coordinate_system,
    from_screen,
    from_screen_point,
    map_point,
    to_screen,
)
from actions.errors import (
    CoordinateError,
    DesktopUnavailable,
    ExecutionError,
    FailSafeTriggered,
    ParseError,
)
from actions.executor import DryRunExecutor, Executor
from actions.parsed import Parsed
from actions.parsing import FORMATS, parse
from actions.render import render
from actions.schemas import ACTION_ADAPTER, ACTION_NAMES, Action, action_from_dict
from actions.x11.pyautogui_executor import PyAutoGUIExecutor

__all__ = [
    "ACTION_ADAPTER", "ACTION_NAMES", "COORDINATE_NAMES", "coordinate_system", "Action", "CoordinateError", "CoordinateSystem",
    "DesktopUnavailable", "DryRunExecutor", "ExecutionError", "Executor", "FORMATS",
    "FailSafeTriggered", "GRID_1000", "GRID_999", "ParseError", "Parsed", "PyAutoGUIExecutor", "ScreenGeometry",
    "action_from_dict", "from_screen", "from_screen_point", "map_point", "parse", "render", "to_screen",
]
