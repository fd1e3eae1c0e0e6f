"""`verify report RUN_DIR`: outcomes, coverage, drift and cost of a run, as a self-contained HTML page.

Layers: rundir (read a run directory, never modify it) -> outcomes / coverage / drift / cost (pure
numbers) -> plots (PNG files) -> html (one page, plots inlined) ; build ties them together.
"""
