"""Where a run's steps may run besides this machine (Ray)."""
