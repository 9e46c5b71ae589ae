"""The three servers the benchmark compares, serving the runnables in `runnables`."""
