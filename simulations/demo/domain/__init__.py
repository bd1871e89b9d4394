"""Pure planning of the demo city (no I/O)."""
