"""Evaluation: pure functions from probe facts to Outlook's checks and a verdict."""
