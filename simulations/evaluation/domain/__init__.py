"""Pure evaluation code: bus signal-delay tracking, SPaT error, lamp safety audit, summaries."""
