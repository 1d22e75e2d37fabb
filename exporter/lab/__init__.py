"""The embedded lab: certificates, TLS servers and a DNS responder on loopback that
reproduce KB 940726 for ``demo``. The test suite builds its labs from the same parts.
"""
