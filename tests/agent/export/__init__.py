"""Tests of agent/export/."""
