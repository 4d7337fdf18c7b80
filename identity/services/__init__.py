"""Identity writes: stitching, merges and unmerges, probabilistic matching."""
