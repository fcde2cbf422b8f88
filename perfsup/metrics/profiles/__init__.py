"""Profiling inputs for the model: Go escape analysis, Go and Python CPU profiles."""
