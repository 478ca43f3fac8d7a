"""claim domain."""
