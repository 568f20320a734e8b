"""Drivers: training loops that use the models on data or on the Hamiltonian (supervised first)."""
