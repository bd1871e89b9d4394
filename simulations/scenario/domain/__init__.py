"""Pure scenario data: network geometry, signal plans and seeded demand (no I/O)."""
