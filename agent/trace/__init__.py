"""Traces: the run folder a run writes and the viewer, the report and replay read."""
