"""chain domain."""
