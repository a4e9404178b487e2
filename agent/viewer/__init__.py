"""`agent view` and `agent run --tui`: the Textual trace viewer (runs list, one run, a bench scoreboard)."""
