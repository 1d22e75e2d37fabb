"""Service mode (``serve``): background refresh, Prometheus collector, HTTP endpoints."""
