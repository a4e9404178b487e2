"""Tests of agent/record/."""
