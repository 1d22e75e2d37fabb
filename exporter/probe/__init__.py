"""Probes: the I/O stage. Each probe is one small job with one deadline that
returns a typed result; failures are data (a reason and a detail), never exceptions.
"""
