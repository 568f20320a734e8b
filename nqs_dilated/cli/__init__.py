"""Command-line front ends: the only modules that parse arguments and print."""
