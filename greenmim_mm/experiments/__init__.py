"""End-to-end experiments built on the toolkit's configs and tools (see docs/en/)."""
