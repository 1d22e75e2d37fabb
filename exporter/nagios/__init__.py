"""Nagios/Icinga check mode (``check``): the Monitoring Plugins conventions over
one pipeline run."""
