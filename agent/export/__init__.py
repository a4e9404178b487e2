"""What runs become: a task whose reference is a run's actions, and supervised fine-tuning data.

`conversation.py` rebuilds, from a trace, the conversation each step's model saw (one function, the hook
for the prompt profiles); `dataset.py` writes those conversations as OpenAI-messages JSONL with the
screenshots as files; `task_from_run.py` turns a successful run into a task file.
"""
from agent.export.conversation import RunPrompt, run_prompt, step_conversations
from agent.export.dataset import ExportOptions, ExportSummary, export_dataset, runs_of
from agent.export.task_from_run import reference_of, task_from_run

__all__ = ["ExportOptions", "ExportSummary", "RunPrompt", "export_dataset", "reference_of", "run_prompt", "runs_of",
           "step_conversations", "task_from_run"]
