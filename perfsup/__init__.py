"""perfsup: a supervisor for overnight, local-model code optimisation."""

__version__ = "0.1.0"
