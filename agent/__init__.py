"""A local computer-use agent on Qwen3-VL: run a task in a desktop with a policy, and get its trace.

    from agent import PolicySettings, RunSettings, build_policy, load_task, run_task, sandbox_for

    task = load_task("tasks/open_settings.yaml")
    policy = build_policy(PolicySettings(name="scripted"), task)
    result = run_task(task, policy, sandbox_for(task), RunSettings())   # writes runs/<run-id>/

The seam for new deciders is `Policy` (agent/policies/base.py): it gets an `Observation` and the
earlier `Turn`s, and answers a `Reply`. The command line (`agent/cli.py`) is a thin layer over this.
"""
from agent.desktop import Desktop, LiveDesktop, sandbox_for
from agent.errors import AgentError, UserError
from agent.policies import Observation, Policy, Reply, Turn
from agent.policies import build as build_policy
from agent.run import run_task
from agent.settings import PolicySettings, RunSettings
from agent.tasks import Task, load_task
from agent.trace import RunResult, read_run

__all__ = ["AgentError", "Desktop", "LiveDesktop", "Observation", "Policy", "PolicySettings", "Reply", "RunResult",
           "RunSettings", "Task", "Turn", "UserError", "build_policy", "load_task", "read_run", "run_task",
           "sandbox_for"]
