"""Run a bench: N worker threads take (task, repeat) jobs, each run in its own sandbox, results to bench.json.

With the local policy every run gets a fresh conversation on the one model loaded in this process
(model calls take turns under its lock; desktops, apps and settle waits overlap). Stopping (Ctrl-C,
SIGTERM) sets one abort event: running runs end at their next step as `aborted`, no new run starts,
bench.json keeps everything finished. Running again with the same --out resumes.
"""
from __future__ import annotations

import contextlib
import queue
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from agent.bench.plan import Job, plan_jobs, still_to_do
from agent.bench.progress import Progress
from agent.bench.results import BENCH_FILE, BenchRecord, BenchWriter, RunEntry, entry_from_run, machine, read_bench
from agent.bench.suite import Suite, load_tasks
from agent.desktop import sandbox_for
from agent.errors import BenchError, PolicyUnavailable, RunSetupError
from agent.policies import build, describe
from agent.run import run_task, versions
from agent.settings import PolicySettings, RunSettings


@dataclass
class BenchOptions:
    """Everything `agent bench SUITE` was told."""

    suite: Suite
    policy: PolicySettings
    settings: RunSettings
    out: Path
    parallel: int = 1
    repeats: int | None = None  # None: the suite's repeats
    rerun_failed: bool = False
    shard: tuple[int, int] | None = None


def _new_record(options: BenchOptions, jobs: list[Job], described: dict) -> BenchRecord:
    return BenchRecord(
        bench_id=options.out.resolve().name, suite=options.suite.as_dict(), policy=options.policy.as_dict(),
        policy_settings=described, run_settings={"max_steps": options.settings.max_steps},
        versions=versions(), machine=machine(),
        shard=f"{options.shard[0]}/{options.shard[1]}" if options.shard else None,
        repeats=options.repeats or options.suite.repeats, planned=[list(job.key) for job in jobs],
        parallel=options.parallel,
    )


def _resume(options: BenchOptions, fresh: BenchRecord) -> BenchRecord:
    """The existing record of --out when it is the same bench; BenchError when it is another one."""
    if not (options.out / BENCH_FILE).exists():
        return fresh
    old = read_bench(options.out)
    for what in ("policy", "run_settings", "shard"):
        if getattr(old, what) != getattr(fresh, what):
            raise BenchError(f"{options.out} holds a bench with other {what.replace('_', ' ')} "
                             f"({getattr(old, what)} ≠ {getattr(fresh, what)}); pass another --out to start a new one")
    if old.suite.get("name") != fresh.suite.get("name"):
        raise BenchError(f"{options.out} holds a bench of suite {old.suite.get('name')!r}; pass another --out")
    keep = {tuple(k) for k in fresh.planned}
    fresh.runs = [e for e in old.runs if e.key in keep]
    fresh.started_at = old.started_at
    return fresh


def prepare(options: BenchOptions) -> tuple[BenchWriter, list[Job], list[Job]]:
    """(writer, every job, jobs still to do); builds the policy once to fail early (and load the model)."""
    tasks = load_tasks(options.suite, strict=False)
    jobs = plan_jobs(tasks, options.repeats or options.suite.repeats, options.shard)
    loadable = [job for job in jobs if not isinstance(job.task, Exception)]
    if not jobs:
        raise BenchError(f"shard {options.shard} of suite {options.suite.name!r} holds no task")
    if not loadable:
        raise BenchError(f"no task of suite {options.suite.name!r} loads: {jobs[0].task}")
    probe = build(options.policy, loadable[0].task)  # PolicyUnavailable here stops the bench before any sandbox
    described = describe(probe)
    probe.close()
    record = _resume(options, _new_record(options, jobs, described))
    (options.out / "runs").mkdir(parents=True, exist_ok=True)  # shared by parallel runs: made once, here
    return BenchWriter(options.out, record), jobs, still_to_do(jobs, record.runs, options.rerun_failed)


def _run_one(job: Job, options: BenchOptions, abort: threading.Event) -> RunEntry:
    runs_dir = options.out / "runs"
    where: list[Path] = []
    base = dict(task_id=job.task_id, task_file=str(job.task_file), repeat=job.repeat)
    if isinstance(job.task, Exception):
        return RunEntry(**base, status="error", message=f"could not start: {job.task}")
    try:
        policy = build(options.policy, job.task)
    except PolicyUnavailable as exc:
        return RunEntry(**base, status="error", message=f"policy unavailable: {exc}")
    except Exception as exc:
        return RunEntry(**base, status="error", message=f"policy failed to start: {type(exc).__name__}: {exc}")
    try:
        run_task(job.task, policy, sandbox_for(job.task), options.settings, runs_dir=runs_dir, abort=abort,
                 echo=lambda line: None, task_file=job.task_file, on_run_dir=where.append)
    except RunSetupError as exc:
        return RunEntry(**base, status="aborted" if abort.is_set() else "error", message=f"could not start: {exc}")
    except KeyboardInterrupt:
        return RunEntry(**base, status="aborted", message="stopped before the run started")
    except Exception as exc:  # a bug in one run must not end the bench
        if not where:
            return RunEntry(**base, status="error", message=f"{type(exc).__name__}: {exc}")
    finally:
        policy.close()
    return entry_from_run(job.task_id, str(job.task_file), job.repeat, where[0], options.out)


def run_bench(options: BenchOptions, abort: threading.Event, progress: Progress | None = None) -> BenchRecord:
    """Run what is left of the bench with options.parallel workers; returns the final record."""
    writer, jobs, todo = prepare(options)
    done_before = len(jobs) - len(todo)
    progress = progress or Progress(len(jobs))
    progress.total, progress.done, progress.started_done = len(jobs), done_before, done_before
    progress.passed = sum(e.status == "success" for e in writer.record.runs if e.key not in {j.key for j in todo})
    writer.record.parallel = options.parallel
    writer.save()
    pending: queue.Queue[Job] = queue.Queue()
    for job in todo:
        pending.put(job)

    def worker() -> None:
        while not abort.is_set():
            try:
                job = pending.get_nowait()
            except queue.Empty:
                return
            name = f"{job.task_id}#{job.repeat}"
            progress.started(name)
            entry = _run_one(job, options, abort)
            writer.add(entry)
            progress.finished(name, entry.status)

    threads = [threading.Thread(target=worker, name=f"bench-{i}", daemon=True)
               for i in range(max(1, min(options.parallel, len(todo))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():  # short joins keep the main thread free for signal handlers
            thread.join(timeout=0.2)
    progress.close()
    finished = {e.key for e in writer.record.runs if e.status != "aborted"}
    writer.finish(complete=all(job.key in finished for job in jobs))
    return writer.record


@contextlib.contextmanager
def stop_on_signals(abort: threading.Event, progress: Progress) -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP set the abort event (running runs end at their next step)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame) -> None:
        if not abort.is_set():
            progress.note(f"{signal.Signals(signum).name}: stopping — running tasks end at their next step …")
        abort.set()

    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, stop) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
