"""The `agent` command line: typer wiring only; each command's body is a module in `agent/commands/`.

A command imports its body when it runs, so `agent --help`, `validate`, `parse`, `view` and `report`
never load torch. Every UserError a command raises is reported here, once: `error: …` on stderr, exit 2.
"""
from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import fields
from enum import Enum
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer
from typer.core import TyperGroup

from agent.errors import UserError
from agent.policies import ignored_flag_warnings
from agent.policies import names as policy_names
from agent.settings import PolicySettings, RunSettings, flag_of


def _plain_flags(params: list[Any]) -> list[Any]:
    """Give every on/off flag (including --help) an empty metavar, so help shows no `<bool>`."""
    for param in params:  # typer vendors its own click: recognise options by their attributes
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class AgentGroup(TyperGroup):
    """A command group whose commands list their flags without `<bool>`, and that reports UserErrors."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_flags(command.get_params(ctx))
        return command

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a UserError is the one `error: …` paragraph and exit status 2."""
        try:
            return super().invoke(ctx)
        except UserError as error:
            typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None


class BenchGroup(AgentGroup):
    """`agent bench SUITE …` runs a bench; `agent bench compare|merge …` are its other commands."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=AgentGroup, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="A local computer-use agent on Qwen3-VL.")
bench_app = typer.Typer(cls=BenchGroup, no_args_is_help=True,
                        help="Score a policy on a suite of tasks in parallel sandboxes (`agent bench SUITE`).")
app.add_typer(bench_app, name="bench")
task_app = typer.Typer(cls=AgentGroup, no_args_is_help=True, help="Make task files from what ran (`agent task from-run`).")
app.add_typer(task_app, name="task")


def policy_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command one flag per PolicySettings field, declared once (agent/settings.py).

    The flags appear where the command's `policy` parameter is; the command receives them as one
    PolicySettings, after a warning line for each flag typed that the chosen policy does not read.
    """
    hints = typing.get_type_hints(PolicySettings)
    flags = [inspect.Parameter("policy" if f.name == "name" else f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                               annotation=hints[f.name],
                               default=typer.Option(f.default, flag_of(f.name),
                                                    help=f.metadata["help"].format(policies=", ".join(policy_names()))))
             for f in fields(PolicySettings)]
    signature = inspect.signature(command)
    params = list(signature.parameters.values())
    at = [p.name for p in params].index("policy")

    @functools.wraps(command)
    def with_settings(ctx: typer.Context, **given: Any) -> Any:
        values = {f.name: given.pop("policy" if f.name == "name" else f.name) for f in fields(PolicySettings)}
        settings = PolicySettings(**values)
        typed = [f.name for f in fields(PolicySettings)  # typer vendors click: compare the source by name
                 if getattr(ctx.get_parameter_source("policy" if f.name == "name" else f.name), "name", None)
                 == "COMMANDLINE"]
        for line in ignored_flag_warnings(settings.name, typed):
            typer.echo(line, err=True)
        return command(ctx, policy=settings, **given)

    params = params[:at] + flags + params[at + 1:]
    with_settings.__signature__ = signature.replace(parameters=params)
    with_settings.__annotations__ = {p.name: p.annotation for p in params}  # what typer reads the types from
    return with_settings


MAX_STEPS_OPT = typer.Option(None, help="Override the task's step limit (>= 1).")


class ParseFormat(str, Enum):
    auto = "auto"
    qwen = "qwen"
    uitars = "uitars"


@app.command()
@policy_flags
def run(
    ctx: typer.Context,
    task: str = typer.Argument(..., metavar="TASK", help="Task YAML file, or a plain instruction in quotes "
                                                          "(an ad-hoc task without checks)."),
    policy: PolicySettings = None,
    app_commands: List[str] = typer.Option([], "--app", metavar="CMD", help="With an instruction: a program to "
                                           "start in the sandbox (repeatable; none: an empty desktop)."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run folders are written."),
    max_steps: Optional[int] = MAX_STEPS_OPT,
    live: bool = typer.Option(False, "--live", metavar="", help="Drive the current X11 display instead of a sandbox."),
    yes: bool = typer.Option(False, "--yes", "-y", metavar="", help="Skip the --live confirmation."),
    tui: bool = typer.Option(False, "--tui", metavar="", help="Show the run live in the trace viewer."),
) -> None:
    """Run a task: open a sandbox desktop, let the policy act, check the result.

    TASK is a task file, or an instruction such as "Open the settings window of Mousepad": then the
    desktop holds the --app programs, nothing checks the result (the run ends done or gave_up) and the
    run folder keeps the task as task.yaml, so `agent run RUN_DIR/task.yaml` repeats it.
    """
    from agent.commands.run import run_command

    settings = RunSettings(max_steps=max_steps, live=live)
    raise typer.Exit(run_command(task, policy, settings, runs_dir, yes=yes, tui=tui, apps=app_commands))


@app.command()
def record(
    task: str = typer.Argument(..., metavar="TASK_OR_INSTRUCTION", help="Task YAML file, or a plain instruction "
                                                                         "in quotes for a new task."),
    app_commands: List[str] = typer.Option([], "--app", metavar="CMD", help="With an instruction: a program to "
                                           "start in the sandbox (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Task file to write (default: the task file "
                                       "itself, or ./<task-id>.yaml for an instruction); never overwrites another."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where the recording's and the replay's run folders go."),
    stop_key: str = typer.Option("pause", "--stop-key", help="The key (or chord, e.g. ctrl+alt+q) that ends "
                                 "the recording; it is not recorded."),
    no_replay: bool = typer.Option(False, "--no-replay", metavar="", help="Do not replay the recording "
                                   "afterwards."),
    no_button: bool = typer.Option(False, "--no-button", metavar="", help="No Stop button window (stop with the "
                                   "key or Enter)."),
) -> None:
    """Record yourself doing a task in its sandbox, shown in a window on your display.

    Clicks, drags, scrolls, typing and key chords become the task's reference solution in the model's
    coordinates, with the screenshot before each action; then the scripted policy replays it in a fresh
    sandbox and says whether the checks pass.
    """
    from agent.commands.record import record_command

    raise typer.Exit(record_command(task, app_commands, out, runs_dir, stop_key, replay=not no_replay,
                                    button=not no_button))


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
    from agent.commands.replay import replay_command

    raise typer.Exit(replay_command(run_dir, task, runs_dir, yes=yes))


@bench_app.command("run")
@policy_flags
def bench_run(
    ctx: typer.Context,
    suite: Path = typer.Argument(..., help="Suite file (tasks/suites/core.yaml) or a folder of task files."),
    policy: PolicySettings = None,
    max_steps: Optional[int] = MAX_STEPS_OPT,
    parallel: int = typer.Option(1, "--parallel", "-j", help="Runs at a time, each in its own sandbox (>= 1)."),
    repeat: Optional[int] = typer.Option(None, "--repeat", "-k", help="Runs of each task (default: the suite's repeats)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Bench folder (default benchmarks/<suite>-<time>); an existing one is resumed."),
    rerun_failed: bool = typer.Option(False, "--rerun-failed", metavar="", help="On resume, run again every run that did not succeed."),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: run only the I-th of N deterministic slices of the suite."),
) -> None:
    """Run every (task, repeat) of a suite, N at a time; write DIR/bench.json and print the summary."""
    from agent.commands.bench import bench_command

    settings = RunSettings(max_steps=max_steps)
    raise typer.Exit(bench_command(suite, policy, settings, out, parallel, repeat, rerun_failed, shard))


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


@task_app.command("from-run")
def task_from_run(
    run_dir: Path = typer.Argument(..., help="A successful run folder (the model's, or a recording)."),
    out: Path = typer.Option(..., "--out", "-o", help="The new task file (must not exist yet)."),
) -> None:
    """A task whose reference solution is what a successful run did; the rest is the run's task file.

    `agent validate` accepts the new file and `agent run TASK.yaml --policy scripted` plays it.
    """
    from agent.commands.task import from_run_command

    raise typer.Exit(from_run_command(run_dir, out))


@app.command()
def export(
    paths: List[Path] = typer.Argument(..., metavar="RUN_DIR_OR_BENCH...", help="Run folders, bench folders or "
                                       "folders of runs."),
    out: Path = typer.Option(..., "--out", "-o", help="The dataset folder to create (new, or empty)."),
    only_success: bool = typer.Option(False, "--only-success", metavar="", help="Keep only runs whose checks "
                                      "passed."),
    drop_failed_steps: bool = typer.Option(False, "--drop-failed-steps", metavar="", help="Leave out steps whose "
                                           "reply could not be parsed or carried out."),
    absolute_paths: bool = typer.Option(False, "--absolute-paths", metavar="", help="Name images by absolute "
                                        "path (default: relative to the dataset folder)."),
) -> None:
    """Traces as fine-tuning data: one OpenAI-messages JSONL record per step, screenshots as image files.

    Each record holds the conversation the step's model saw and its reply as the target; ms-swift reads
    DATASET/data.jsonl as is, LLaMA-Factory through DATASET/dataset_info.json.
    """
    from agent.commands.export import export_command
    from agent.export import ExportOptions  # with its command: torch stays out of `agent --help`

    options = ExportOptions(only_success=only_success, drop_failed_steps=drop_failed_steps,
                            absolute_paths=absolute_paths)
    raise typer.Exit(export_command(paths, out, options))


@app.command()
def validate(paths: List[Path] = typer.Argument(..., help="Task files, suite files or folders of them.")) -> None:
    """Check task files (schema, field types, reference solutions) and suite files (in a suites/ folder).

    Every file is checked and reported; the exit status is 0 when all are valid, 2 otherwise.
    """
    from agent.commands.validate import validate_command

    raise typer.Exit(validate_command(paths))


@app.command()
def parse(
    format: ParseFormat = typer.Option(ParseFormat.auto, "--format", help="Which output style to expect."),
    screen: Optional[str] = typer.Option(None, help="WxH: also map the actions to screen pixels."),
) -> None:
    """Parse model text from stdin into actions; print one JSON object."""
    from agent.commands.parse import parse_command

    raise typer.Exit(parse_command(format.value, screen))


@app.command()
def view(
    path: Path = typer.Argument(Path("runs"), help="A runs folder or one run folder."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Follow a run as it is written."),
) -> None:
    """Browse traces in the terminal."""
    from agent.commands.view import view_command

    raise typer.Exit(view_command(path, follow=follow))


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A run folder, or a bench folder (holds bench.json)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="HTML file, or a folder to put RUN_ID.html in (default RUN_DIR/report.html, BENCH_DIR/bench.html)."),
) -> None:
    """Write one self-contained HTML report of a run, or a bench's scoreboard with a page per run."""
    from agent.commands.report import report_command

    raise typer.Exit(report_command(run_dir, output))


@app.command()
def serve(
    model: str = typer.Option(..., help="Local folder (or hub id) of a Qwen3-VL checkpoint."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on; other than localhost needs --allow-remote."),
    port: int = typer.Option(8000, help="Port (0: any free port)."),
    served_model_name: Optional[str] = typer.Option(None, help="Model name clients send (default: --model as given)."),
    device: str = typer.Option("auto", help="cpu, cuda, cuda:1 … (auto: cuda when available)."),
    dtype: str = typer.Option("auto", help="float32, bfloat16, float16 (auto: bf16 on CUDA, fp32 on CPU)."),
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

    options = {name: value for name, value in locals().items() if name in ServeOptions.__dataclass_fields__}
    raise typer.Exit(serve_command(ServeOptions(**options)))


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
    from agent.commands.generate import generate_command

    raise typer.Exit(generate_command(model=model, prompt=prompt, images=image, videos=video, video_fps=video_fps,
                                      max_new_tokens=max_new_tokens, temperature=temperature, device=device,
                                      dtype=dtype, json_output=json_output))


if __name__ == "__main__":
    app()
