"""`agent record`: a person's demonstration in the task's sandbox, shown in a window on their own display
(Xephyr), recorded as actions in the model's coordinates with the screenshot before each one.

`events.py` turns X input events into actions (pure), `listener.py` hears them (X RECORD), `frames.py`
keeps the screenshots, `recording.py` runs one demonstration and `save.py` writes the reference into the
task file and the run folder.
"""
from agent.record.events import InputEvent, Recorded, actions_from_events, normalize_chord
from agent.record.recording import Demonstration, Recording, host_display_env
from agent.record.save import SavedRecording, save_demonstration

__all__ = ["Demonstration", "InputEvent", "Recorded", "Recording", "SavedRecording", "actions_from_events",
           "host_display_env", "normalize_chord", "save_demonstration"]
