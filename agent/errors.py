"""Errors the viewer and the report raise for bad input."""


class NotARunError(ValueError):
    """The path is neither a run folder (meta.json or steps.jsonl) nor, where allowed, a folder of runs."""


class ReportOutputError(ValueError):
    """The report cannot be written where it was asked to go."""
