"""The chain as Windows' chain engine builds it: fetching what certificates point at
(:mod:`.fetch`) and judging each distinct presented chain once per refresh
(:mod:`.judge`), between the probe and the per-endpoint verdict."""
