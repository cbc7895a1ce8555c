"""Sources: archive readers and live collectors, one module per platform, registered in one
registry (``monitor.sources.api``). Sources yield posts; they never write."""
