"""What talks to an X server: the pyautogui executor, keysym typing, key names and display checks."""
