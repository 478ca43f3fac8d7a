"""annotation domain."""
