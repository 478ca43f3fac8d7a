"""settlement domain."""
