"""`agent report`: a run or a bench as one self-contained HTML page."""
