"""Shared plumbing for every domain: settings, database, errors, money types."""
