"""Profiling inputs for the model: Go escape analysis and Python profiles."""
