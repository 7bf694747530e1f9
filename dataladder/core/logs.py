"""Quiet the libraries' own logs and progress bars; dataladder shows its own progress instead."""

from __future__ import annotations


def quiet() -> None:
    import os
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)  # deprecations inside transformers/peft

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
