"""Where a run happens: a private sandbox desktop or the person's own X11 display, and its screen."""
