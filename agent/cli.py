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

from agent.cli_help import PlainFlagsGroup
from agent.policies.registry import names as policy_names  # registration imports no torch
from agent.settings import DEFAULT_HISTORY_IMAGES, DEFAULT_MAX_NEW_TOKENS, DEFAULT_MAX_PIXELS, DEFAULT_MODEL

app = typer.Typer(
    cls=PlainFlagsGroup,  # no `<bool>` after flags in --help
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="A local computer-use agent on Qwen3-VL.",
)


# Options shared by `agent run` and `agent bench` (one declaration, one default).
POLICY_OPT = typer.Option("local", help=f"Who decides the actions: {', '.join(policy_names())}.")
MODEL_OPT = typer.Option(DEFAULT_MODEL, help="Hub id or local folder of a Qwen3-VL checkpoint (local policy).")
DEVICE_OPT = typer.Option("auto", help="cpu, cuda, cuda:1 … (auto: cuda when available).")
DTYPE_OPT = typer.Option("auto", help="float32, bfloat16, float16 (auto: bf16 on CUDA, fp32 on CPU).")
MAX_PIXELS_OPT = typer.Option(DEFAULT_MAX_PIXELS, help="Pixel budget of each screenshot sent to the model (>= 1).")
HISTORY_OPT = typer.Option(DEFAULT_HISTORY_IMAGES, help="Screenshots kept in the model's context (>= 1).")
MAX_NEW_TOKENS_OPT = typer.Option(DEFAULT_MAX_NEW_TOKENS, help="Longest reply the model may write per step (>= 1; sent as max_tokens by the http policy).")
RECORDING_OPT = typer.Option(None, "--recording", help="Run folder whose outputs the replay policy repeats.")
MAX_STEPS_OPT = typer.Option(None, help="Override the task's step limit (>= 1).")
ENDPOINT_OPT = typer.Option(None, "--endpoint", help="OpenAI-compatible server for --policy http (http://host:8000/v1).")
API_KEY_ENV_OPT = typer.Option(None, "--api-key-env", help="NAME of the environment variable holding the API key (http).")
PROFILE_OPT = typer.Option("qwen3vl", "--profile", help="Model profile for --policy http: qwen3vl, uitars15.")
TEMPERATURE_OPT = typer.Option(0.0, "--temperature", help="Sampling temperature of model policies (0: greedy).")


def _settings(fail, **policy):
    """PolicySettings from the shared flags; a value out of range is a clear error with exit 2."""
    from agent.policies.registry import PolicySettings
    from agent.settings import SettingsError

    try:
        return PolicySettings(**policy)
    except SettingsError as exc:
        fail(str(exc))


def _warn_ignored_flags(ctx: typer.Context, policy: str) -> None:
    """One stderr line per policy flag given on the command line that the chosen policy does not use."""
    from dataclasses import fields

    from agent.policies.registry import PolicySettings, ignored_flag_warnings

    # typer vendors its own click, so the ParameterSource enum is compared by member name
    given = [field.name for field in fields(PolicySettings)
             if getattr(ctx.get_parameter_source(field.name), "name", None) == "COMMANDLINE"]
    for line in ignored_flag_warnings(policy, given):
        typer.echo(line, err=True)


def _run_settings(fail, **given):
    from agent.settings import RunSettings, SettingsError

    try:
        return RunSettings(**given)
    except SettingsError as exc:
        fail(str(exc))


class ParseFormat(str, Enum):
    auto = "auto"
    qwen = "qwen"
    uitars = "uitars"


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@app.command()
def run(
    ctx: typer.Context,
    task: Path = typer.Argument(..., help="Task YAML file."),
    policy: str = POLICY_OPT,
    model: str = MODEL_OPT,
    device: str = DEVICE_OPT,
    dtype: str = DTYPE_OPT,
    max_pixels: int = MAX_PIXELS_OPT,
    history_images: int = HISTORY_OPT,
    max_new_tokens: int = MAX_NEW_TOKENS_OPT,
    recording: Optional[Path] = RECORDING_OPT,
    endpoint: Optional[str] = ENDPOINT_OPT,
    api_key_env: Optional[str] = API_KEY_ENV_OPT,
    profile: str = PROFILE_OPT,
    temperature: float = TEMPERATURE_OPT,
    runs_dir: Path = typer.Option(Path("runs"), help="Where run folders are written."),
    max_steps: Optional[int] = MAX_STEPS_OPT,
    live: bool = typer.Option(False, "--live", metavar="", help="Drive the current X11 display instead of a sandbox."),
    yes: bool = typer.Option(False, "--yes", "-y", metavar="", help="Skip the --live confirmation."),
    tui: bool = typer.Option(False, "--tui", metavar="", help="Show the run live in the trace viewer."),
) -> None:
    """Run a task: open a sandbox desktop, let the policy act, check the result."""
    from agent.commands.run import CliRun, run_from_cli

    settings = _settings(_fail, name=policy, model=model, device=device, dtype=dtype, max_pixels=max_pixels,
                         history_images=history_images, max_new_tokens=max_new_tokens, recording=recording,
                         endpoint=endpoint, api_key_env=api_key_env, profile=profile, temperature=temperature)
    _warn_ignored_flags(ctx, policy)
    run_settings = _run_settings(_fail, max_steps=max_steps, live=live)
    raise typer.Exit(run_from_cli(CliRun(task_file=task, policy=settings, settings=run_settings,
                                         runs_dir=runs_dir, yes=yes, tui=tui)))


@app.command()
def replay(
    run_dir: Path = typer.Argument(..., help="A recorded run folder (runs/<run-id>)."),
    task: Optional[Path] = typer.Option(None, "--task", help="Your own copy of the task file (default: the one the recording names)."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where the new run folder is written."),
    yes: bool = typer.Option(False, "--yes", "-y", metavar="", help="Accept the commands of a task file that comes from the recording."),
) -> None:
    """Replay a recorded run's model outputs in a fresh sandbox.

    A task file that the recording points at outside your current folder (or inside or beside the
    recording) is shown with the shell commands it would run, and needs your yes (or --yes).
    """
    from agent.commands.run import CliRun, RunSetupError, replay_task_file, run_from_cli, stderr_echo, warn_if_other_task
    from agent.settings import RunSettings

    try:
        task_file, consent = replay_task_file(run_dir, task)
        warn_if_other_task(run_dir, task_file, stderr_echo)
    except RunSetupError as exc:
        _fail(str(exc))
    settings = _settings(_fail, name="replay", recording=run_dir)
    raise typer.Exit(run_from_cli(CliRun(task_file=task_file, policy=settings, settings=RunSettings(),
                                         runs_dir=runs_dir, yes=yes, consent_needed=consent)))


class _BenchGroup(PlainFlagsGroup):
    """`agent bench SUITE …` runs a bench; `agent bench compare|merge …` are its other commands."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


bench_app = typer.Typer(cls=_BenchGroup, no_args_is_help=True,
                        help="Score a policy on a suite of tasks in parallel sandboxes (`agent bench SUITE`).")
app.add_typer(bench_app, name="bench")


@bench_app.command("run")
def bench_run(
    ctx: typer.Context,
    suite: Path = typer.Argument(..., help="Suite file (tasks/suites/core.yaml) or a folder of task files."),
    policy: str = POLICY_OPT,
    model: str = MODEL_OPT,
    device: str = DEVICE_OPT,
    dtype: str = DTYPE_OPT,
    max_pixels: int = MAX_PIXELS_OPT,
    history_images: int = HISTORY_OPT,
    max_new_tokens: int = MAX_NEW_TOKENS_OPT,
    recording: Optional[Path] = RECORDING_OPT,
    endpoint: Optional[str] = ENDPOINT_OPT,
    api_key_env: Optional[str] = API_KEY_ENV_OPT,
    profile: str = PROFILE_OPT,
    temperature: float = TEMPERATURE_OPT,
    max_steps: Optional[int] = MAX_STEPS_OPT,
    parallel: int = typer.Option(1, "--parallel", "-j", help="Runs at a time, each in its own sandbox (>= 1)."),
    repeat: Optional[int] = typer.Option(None, "--repeat", "-k", help="Runs of each task (default: the suite's repeats)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Bench folder (default benchmarks/<suite>-<time>); an existing one is resumed."),
    rerun_failed: bool = typer.Option(False, "--rerun-failed", metavar="", help="On resume, run again every run that did not succeed."),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: run only the I-th of N deterministic slices of the suite."),
) -> None:
    """Run every (task, repeat) of a suite, N at a time; write DIR/bench.json and print the summary."""
    from agent.commands.bench import bench_command

    settings = _settings(_fail, name=policy, model=model, device=device, dtype=dtype, max_pixels=max_pixels,
                         history_images=history_images, max_new_tokens=max_new_tokens, recording=recording,
                         endpoint=endpoint, api_key_env=api_key_env, profile=profile, temperature=temperature)
    _warn_ignored_flags(ctx, policy)
    raise typer.Exit(bench_command(suite, settings, _run_settings(_fail, max_steps=max_steps), out, parallel,
                                   repeat, rerun_failed, shard))


@bench_app.command("compare")
def bench_compare(
    a: Path = typer.Argument(..., help="The earlier bench folder."),
    b: Path = typer.Argument(..., help="The later bench folder."),
    json_output: bool = typer.Option(False, "--json", metavar="", help="Print the comparison as JSON."),
) -> None:
    """What got fixed, what broke, and the success-rate difference from bench A to bench B."""
    from agent.commands.bench import compare_command

    raise typer.Exit(compare_command(a, b, json_output))


@bench_app.command("merge")
def bench_merge(
    dirs: List[Path] = typer.Argument(..., help="Bench folders of the shards (--shard I/N) of one bench."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder of the merged bench.json."),
) -> None:
    """Combine shard folders into one bench.json (run folders stay where they are)."""
    from agent.commands.bench import merge_command

    raise typer.Exit(merge_command(dirs, out))


@app.command()
def validate(paths: List[Path] = typer.Argument(..., help="Task files, suite files or folders of them.")) -> None:
    """Check task files (schema, field types, reference solutions) and suite files (in a suites/ folder).

    Every file is checked and reported; the exit status is 0 when all are valid, 2 otherwise.
    """
    from agent.bench.suite import validate_inputs

    problems = validate_inputs(paths)
    for line in problems.report_lines():
        typer.echo(line)
    raise typer.Exit(0 if problems.ok else 2)


@app.command()
def parse(
    format: ParseFormat = typer.Option(ParseFormat.auto, "--format", help="Which output style to expect."),
    screen: Optional[str] = typer.Option(None, help="WxH: also map the actions to screen pixels."),
) -> None:
    """Parse model text from stdin into actions; print one JSON object."""
    from agent.commands.parse import run_parse
    from actions.parsing import MAX_TEXT_CHARS

    # Model text may hold invalid bytes, and runaway output may never end: read a bounded prefix
    # (parse ignores text past MAX_TEXT_CHARS anyway) and drain the rest so the writer is not cut off.
    data = sys.stdin.buffer.read(4 * MAX_TEXT_CHARS + 4)
    while sys.stdin.buffer.read(1 << 20):
        pass
    output, code = run_parse(data.decode("utf-8", "replace"), format.value, screen)
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
    run_dir: Path = typer.Argument(..., help="A run folder, or a bench folder (holds bench.json)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="HTML file, or a folder to put RUN_ID.html in (default RUN_DIR/report.html, BENCH_DIR/bench.html)."),
) -> None:
    """Write one self-contained HTML report of a run, or a bench's scoreboard with a page per run."""
    from agent.bench.results import is_bench_dir
    from agent.report.bench_report import write_bench_report
    from agent.errors import NotARunError, ReportOutputError
    from agent.report.run_report import write_report

    try:
        write = write_bench_report if is_bench_dir(run_dir) else write_report
        typer.echo(str(write(run_dir, output)))
    except (NotARunError, ReportOutputError) as exc:
        _fail(str(exc))


@app.command()
def serve(
    model: str = typer.Option(..., help="Local folder (or hub id) of a Qwen3-VL checkpoint."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on; other than localhost needs --allow-remote."),
    port: int = typer.Option(8000, help="Port (0: any free port)."),
    served_model_name: Optional[str] = typer.Option(None, help="Model name clients send (default: --model as given)."),
    device: str = DEVICE_OPT,
    dtype: str = DTYPE_OPT,
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="NAME of an environment variable: clients must send its value as Bearer key."),
    allow_remote: bool = typer.Option(False, "--allow-remote", metavar="", help="Allow a --host reachable from other machines."),
    allow_local_images: bool = typer.Option(False, "--allow-local-images", metavar="", help="Accept local file paths as image URLs."),
    pool_size: int = typer.Option(4, help="Conversations whose KV cache is kept between requests (>= 1)."),
    kv_budget_mib: Optional[int] = typer.Option(None, help="KV cache memory of all kept conversations, MiB."),
    max_pixels: Optional[int] = typer.Option(None, help="Pixel budget per image (default: the checkpoint's)."),
    queue_size: int = typer.Option(8, help="Requests waiting at most; more get 503 (>= 1)."),
    no_cache: bool = typer.Option(False, "--no-cache", metavar="", help="Re-read the whole history every request (baseline)."),
) -> None:
    """Serve the checkpoint behind an OpenAI-compatible /v1/chat/completions, KV cache kept across requests."""
    from agent.commands.serve import ServeOptions, serve_command

    raise typer.Exit(serve_command(ServeOptions(
        model=model, host=host, port=port, served_model_name=served_model_name, device=device, dtype=dtype,
        api_key_env=api_key_env, allow_remote=allow_remote, allow_local_images=allow_local_images,
        pool_size=pool_size, kv_budget_mib=kv_budget_mib, max_pixels=max_pixels, queue_size=queue_size,
        no_cache=no_cache)))


@app.command()
def generate(
    model: str = typer.Option(..., help="Hub id or local folder of a Qwen3-VL checkpoint."),
    prompt: str = typer.Option(..., help="The user message."),
    image: List[Path] = typer.Option([], help="Image file(s) placed before the prompt."),
    video: List[Path] = typer.Option([], help="Video file (decoded with PyAV, the 'video' extra) or folder of "
                                         "frame images, placed after the images; sampled at the checkpoint's rate."),
    video_fps: Optional[float] = typer.Option(None, help="Frame rate of a --video folder (default: the sampling "
                                                         "rate, 2, so every frame is kept); overrides a file's."),
    max_new_tokens: int = typer.Option(256, help="Generation limit."),
    temperature: Optional[float] = typer.Option(None, help="0 for greedy; default from generation_config.json."),
    device: str = typer.Option("auto", help="cpu, cuda … (auto: cuda when available)."),
    dtype: str = typer.Option("auto", help="float32, bfloat16, float16."),
    json_output: bool = typer.Option(False, "--json", help="Print text, token ids, counts and timings as JSON."),
) -> None:
    """Single-turn generation through the checkpoint's chat template."""
    from agent.commands.generate import run_generate

    raise typer.Exit(
        run_generate(
            model=model, prompt=prompt, images=image, max_new_tokens=max_new_tokens,
            temperature=temperature, device=device, dtype=dtype, json_output=json_output,
            videos=video, video_fps=video_fps,
        )
    )


if __name__ == "__main__":
    app()
