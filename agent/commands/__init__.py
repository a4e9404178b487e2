"""The bodies of the `agent` commands, one module per command; `agent/cli.py` only wires them to typer."""
