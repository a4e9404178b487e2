"""`agent bench`: score a policy on a suite of tasks in parallel sandboxes, resumable, with variance."""
