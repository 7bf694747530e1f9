"""dataladder: measure how much post-training data a model's problem needs.

Run `dataladder --help` for the jobs: probe, pretrain, and the ladders built on them.
"""

__version__ = "0.1.0"
