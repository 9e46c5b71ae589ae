"""The three servers the benchmark compares, serving the runnables in `runnables`.

The constants are here, free of imports, so that `run.py` runs on a bare Python.
"""

JOKE = "why did the chicken cross the road to get to the other side"
CHUNKS = 100
SLOW_CHUNKS = 10
SLOW_INTERVAL = 1.0
