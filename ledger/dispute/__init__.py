"""Disputes: an annotator appeals a rejection; someone else decides."""
