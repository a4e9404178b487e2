"""Policies: whatever decides the next action (a model, a script, a recording)."""
