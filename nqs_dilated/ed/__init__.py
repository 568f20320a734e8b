"""Exact ground states: NetKet's Lanczos on small clusters and our symmetry-adapted engine."""
