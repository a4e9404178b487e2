"""The conversation each step's model saw, rebuilt from a trace with the prompt the run's policy used.

`run_prompt(meta)` is the one place that says how a run talked to its model (system turn, tools, first
user text, screenshot size, history policy): from meta.json's policy settings and the prompt modules in
agent/policies/ (prompt.py for the local policy, profiles.py for the http one). A recording or a scripted
run had no model: it is rendered as the local policy would have prompted Qwen3-VL. When prompt profiles
become one registry, `run_prompt` is the function that looks the run's profile up there.

`step_conversations` replays the policies' conversation rules over the recorded steps: the instruction
before the first screenshot, feedback after each later one (the previous step's error, or the text of
a turn whose model call failed), the model's replies as assistant turns, and the oldest screenshots
replaced by the history marker as the policy replaced them. Each user turn is one string in which
`<image>` stands where a screenshot was (text and image parts joined as the chat template joins them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from agent.errors import ExportError
from agent.policies.profiles import get_profile
from agent.policies.prompt import next_step_text
from agent.settings import DEFAULT_DROP_CHUNK, DEFAULT_HISTORY_IMAGES, DEFAULT_MAX_PIXELS
from agent.trace import RunMeta, StepRecord
from model import HistoryPolicy, drop_oldest

IMAGE_TAG = "<image>"  # where a screenshot goes in a message's text (ms-swift, LLaMA-Factory)
MODEL_POLICIES = ("local", "http")
REASONING_END = "\n</think>\n\n"  # how the http policy joins a server's reasoning to the reply it shows  # policies whose prompt the run recorded; the others had no model


@dataclass(frozen=True)
class RunPrompt:
    """How a run's policy prompted its model: enough to rebuild every step's conversation."""

    profile: str
    """The prompt profile's name (qwen3vl, uitars15)."""
    system: str | None
    """System turn text, or None (the profile sends none)."""
    tools: list[dict]
    """Tools in the OpenAI shape, rendered into the system turn by the chat template."""
    first_text: Callable[[str], str]
    """The first user turn's text (before its screenshot; later turns put their text after it)."""
    factor: int
    """Screenshot sides are resized to multiples of this."""
    min_pixels: int
    """Lower pixel bound of the resize."""
    max_pixels: int
    """Pixel budget of each screenshot."""
    history: HistoryPolicy
    """Which screenshots stayed in the conversation."""
    coordinates: str
    """The coordinate space of the replies: grid1000, grid999 or pixels (of the resized screenshot)."""
    reasoning_apart: bool = False
    """The server returned reasoning apart from the reply (http): the trace shows it before `</think>`,
    and the conversation kept only the reply."""

    def kept_reply(self, output: str) -> str:
        """A step's recorded output as the conversation kept it for the next steps."""
        head, marker, tail = output.partition(REASONING_END)
        return tail if marker and self.reasoning_apart else output


def run_prompt(meta: RunMeta | None) -> RunPrompt:
    """The prompt of the run's profile, from meta.json's policy settings; ExportError for a profile this
    version does not know."""
    settings: dict[str, Any] = dict(meta.policy_settings) if meta is not None else {}
    name = settings.get("profile", "qwen3vl") if settings.get("policy") == "http" else "qwen3vl"
    try:
        profile = get_profile(str(name))
    except ValueError as error:
        raise ExportError(f"run {meta.run_id if meta else '?'}: {error}") from None
    model_settings = settings if settings.get("policy") in MODEL_POLICIES else {}
    max_pixels = _positive(model_settings.get("max_pixels"), DEFAULT_MAX_PIXELS)
    min_pixels = _positive(model_settings.get("min_pixels"), profile.min_pixels)
    history = HistoryPolicy(keep_images=_positive(model_settings.get("history_images"), DEFAULT_HISTORY_IMAGES),
                            drop_chunk=_positive(model_settings.get("drop_chunk"), DEFAULT_DROP_CHUNK))
    return RunPrompt(profile=profile.name, system=profile.system, tools=profile.tools(), first_text=profile.first_text,
                     factor=_positive(model_settings.get("image_factor"), profile.factor),
                     min_pixels=min(min_pixels, max_pixels),
                     max_pixels=max_pixels, history=history, coordinates=profile.coordinates,
                     reasoning_apart=settings.get("policy") == "http")


def _positive(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else default


@dataclass
class StepConversation:
    """One step as training data: the conversation up to its reply, and the reply."""

    step: StepRecord
    messages: list[dict[str, str]]
    """System turn (if any), then user and assistant turns alternating; the last is the step's reply."""
    image_steps: list[int]
    """For each `<image>` in the messages, in order: the step whose screenshot it is."""


@dataclass
class _Part:
    text: str | None = None
    image_step: int | None = None  # None once the history policy replaced the screenshot by its marker


def step_conversations(prompt: RunPrompt, instruction: str, steps: Sequence[StepRecord]) -> list[StepConversation]:
    """Each step that got a reply, with the conversation its model saw (steps whose model call failed
    have no reply and are left out; their turn left the conversation as the policy removed it)."""
    turns: list[tuple[str, Any]] = []  # ("user", [_Part]) or ("assistant", text)
    found: list[StepConversation] = []
    pending: str | None = None  # the text of a user turn whose model call failed, sent with the next screenshot
    previous_error: str | None = None
    for record in sorted(steps, key=lambda s: s.step):
        turns.append(("user", _user_parts(prompt, instruction, record.step, turns, pending, previous_error)))
        _apply_history(prompt.history, turns)
        if record.error is not None and record.error.kind == "policy":  # no reply: the turn is taken back
            _, parts = turns.pop()
            first_turn = not any(kind == "user" for kind, _ in turns)  # rebuilt from the instruction next time
            pending = None if first_turn else parts[-1].text
        else:
            pending = None
            messages, images = _render(prompt, turns)
            found.append(StepConversation(record, messages + [{"role": "assistant", "content": record.model_output}],
                                          images))
            turns.append(("assistant", prompt.kept_reply(record.model_output)))
        previous_error = record.error.message if record.error else None
    return found


def _user_parts(prompt: RunPrompt, instruction: str, step: int, turns, pending: str | None,
                previous_error: str | None) -> list[_Part]:
    if not any(kind == "user" for kind, _ in turns):
        return [_Part(text=prompt.first_text(instruction)), _Part(image_step=step)]
    text = pending if pending is not None else next_step_text(previous_error)
    return [_Part(image_step=step), _Part(text=text)]


def _apply_history(history: HistoryPolicy, turns) -> None:
    """Replace the oldest screenshots by the marker, as the policies do after adding each user turn."""
    images = [part for kind, value in turns if kind == "user" for part in value if part.image_step is not None]
    for index in drop_oldest([True] * len(images), history.images_to_drop(len(images))):
        images[index].image_step, images[index].text = None, history.marker


def _render(prompt: RunPrompt, turns) -> tuple[list[dict[str, str]], list[int]]:
    messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
    images: list[int] = []
    for kind, value in turns:
        if kind == "assistant":
            messages.append({"role": "assistant", "content": value})
            continue
        text = ""
        for part in value:
            if part.image_step is not None:
                text += IMAGE_TAG
                images.append(part.image_step)
            else:
                text += part.text or ""
        messages.append({"role": "user", "content": text})
    return messages, images
