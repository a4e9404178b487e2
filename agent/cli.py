"""The `agent` command line: thin typer commands over modules that do the work.

Every heavy import (torch, transformers, textual, pyautogui) happens inside a command body so that
`agent --help`, `agent validate` and `agent parse` start instantly.
"""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="A local computer-use agent on Qwen3-VL.",
)

DEFAULT_MODEL = "Qwen/Qwen3-VL-2B-Instruct"


class PolicyName(str, Enum):
    local = "local"
    scripted = "scripted"
    replay = "replay"


class ParseFormat(str, Enum):
    auto = "auto"
    qwen = "qwen"
    uitars = "uitars"


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@app.command()
def run(
    task: Path = typer.Argument(..., help="Task YAML file."),
    policy: PolicyName = typer.Option(PolicyName.local, help="Who decides the actions."),
    model: str = typer.Option(DEFAULT_MODEL, help="Hub id or local folder of a Qwen3-VL checkpoint (local policy)."),
    device: str = typer.Option("auto", help="cpu, cuda, cuda:1 … (auto: cuda when available)."),
    dtype: str = typer.Option("auto", help="float32, bfloat16, float16 (auto: bf16 on CUDA, fp32 on CPU)."),
    max_pixels: int = typer.Option(1280 * 800, help="Pixel budget of each screenshot sent to the model."),
    history_images: int = typer.Option(3, help="Screenshots kept in the model's context."),
    max_new_tokens: int = typer.Option(512, help="Longest reply the local model may write per step."),
    recording: Optional[Path] = typer.Option(None, "--recording", help="Run folder whose outputs the replay policy repeats."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run folders are written."),
    max_steps: Optional[int] = typer.Option(None, help="Override the task's step limit."),
    live: bool = typer.Option(False, "--live", help="Drive the current X11 display instead of a sandbox."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Skip the --live confirmation."),
    tui: bool = typer.Option(False, "--tui", help="Show the run live in the trace viewer."),
) -> None:
    """Run a task: open a sandbox desktop, let the policy act, check the result."""
    from agent.runner import RunOptions, run_from_cli

    options = RunOptions(
        task_file=task, policy=policy.value, model=model, device=device, dtype=dtype,
        max_pixels=max_pixels, history_images=history_images, max_new_tokens=max_new_tokens, recording=recording,
        runs_dir=runs_dir, max_steps=max_steps, live=live, yes=yes, tui=tui,
    )
    raise typer.Exit(run_from_cli(options))


@app.command()
def replay(
    run_dir: Path = typer.Argument(..., help="A recorded run folder (runs/<run-id>)."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where the new run folder is written."),
) -> None:
    """Replay a recorded run's model outputs in a fresh sandbox."""
    from agent.runner import RunOptions, run_from_cli, task_file_of_run

    task_file = task_file_of_run(run_dir)
    options = RunOptions(task_file=task_file, policy="replay", recording=run_dir, runs_dir=runs_dir)
    raise typer.Exit(run_from_cli(options))


@app.command()
def validate(paths: List[Path] = typer.Argument(..., help="Task files or folders of them.")) -> None:
    """Check task files: schema, field types and reference solutions."""
    from agent.tasks import validate_paths

    problems = validate_paths(paths)
    for line in problems.report_lines():
        typer.echo(line)
    raise typer.Exit(0 if problems.ok else 1)


@app.command()
def parse(
    format: ParseFormat = typer.Option(ParseFormat.auto, "--format", help="Which output style to expect."),
    screen: Optional[str] = typer.Option(None, help="WxH: also map the actions to screen pixels."),
) -> None:
    """Parse model text from stdin into actions; print one JSON object."""
    from actions.cli import run_parse

    text = sys.stdin.buffer.read().decode("utf-8", "replace")  # model text may hold invalid bytes
    output, code = run_parse(text, format.value, screen)
    typer.echo(output)
    raise typer.Exit(code)


@app.command()
def view(
    path: Path = typer.Argument(Path("runs"), help="A runs folder or one run folder."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Follow a run as it is written."),
) -> None:
    """Browse traces in the terminal."""
    from agent.viewer.app import run_viewer

    run_viewer(path, follow=follow)


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A run folder."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="HTML file (default RUN_DIR/report.html)."),
) -> None:
    """Write one self-contained HTML report of a run."""
    from agent.viewer.errors import NotARunError
    from agent.viewer.report import write_report

    try:
        typer.echo(str(write_report(run_dir, output)))
    except NotARunError as exc:
        _fail(str(exc))


@app.command()
def generate(
    model: str = typer.Option(..., help="Hub id or local folder of a Qwen3-VL checkpoint."),
    prompt: str = typer.Option(..., help="The user message."),
    image: List[Path] = typer.Option([], help="Image file(s) placed before the prompt."),
    max_new_tokens: int = typer.Option(256, help="Generation limit."),
    temperature: Optional[float] = typer.Option(None, help="0 for greedy; default from generation_config.json."),
    device: str = typer.Option("auto", help="cpu, cuda … (auto: cuda when available)."),
    dtype: str = typer.Option("auto", help="float32, bfloat16, float16."),
    json_output: bool = typer.Option(False, "--json", help="Print text, token ids, counts and timings as JSON."),
) -> None:
    """Single-turn generation through the checkpoint's chat template."""
    from model.generate_cli import run_generate

    raise typer.Exit(
        run_generate(
            model=model, prompt=prompt, images=image, max_new_tokens=max_new_tokens,
            temperature=temperature, device=device, dtype=dtype, json_output=json_output,
        )
    )


if __name__ == "__main__":
    app()
