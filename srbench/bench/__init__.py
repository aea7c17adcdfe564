"""The benchmark: a suite becomes cells (model x dataset x attack x budget), each cell's images
become result rows, and the rows land in the store (one atomic file per finished cell).

suite (read and check a suite) -> preflight (find every input first) -> runner (plan the cells,
resume) -> executors (local, shards, Ray) -> evaluate (one cell's rows) -> store.
"""
