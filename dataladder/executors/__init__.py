"""Executors decide where runs happen; results are always written by the driver."""
