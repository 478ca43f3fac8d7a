"""dataset domain."""
