"""Task files: their schema, safe loading, sandbox files, success checks and `agent validate`."""
