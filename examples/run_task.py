"""Run one task with the scripted policy (the task's own reference solution) and print the verdict.

    .venv/bin/python examples/run_task.py [TASK] [RUNS_DIR]

Defaults: tasks/open_settings.yaml and runs/. Needs the sandbox's programs (./install.sh installs them).
"""
import sys
from pathlib import Path

from agent import PolicySettings, RunSettings, build_policy, load_task, run_task, sandbox_for


def main(task_path: str = "tasks/open_settings.yaml", runs_dir: str = "runs") -> int:
    task = load_task(task_path)
    policy = build_policy(PolicySettings(name="scripted"), task)
    run_folders = []  # run_task names the run folder it writes through on_run_dir
    try:
        result = run_task(task, policy, sandbox_for(task), RunSettings(), runs_dir=Path(runs_dir),
                          on_run_dir=run_folders.append)
    finally:
        policy.close()

    print("status:", result.status)
    print("steps:", result.steps)
    print("run folder:", run_folders[0] if run_folders else "none")
    return 0 if result.status == "success" else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
