"""Evals first: the probe scores each skill in each format through a Generator and diagnoses the gaps."""
