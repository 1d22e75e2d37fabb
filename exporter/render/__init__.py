"""Renderers: format a Snapshot. They never re-derive a fact the verdict holds."""
