"""mirror domain."""
