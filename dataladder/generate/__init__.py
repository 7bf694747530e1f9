"""One generation layer: prompts → completions for the probe, rung evals, synth, pairs and RL checks.

See `dataladder.generate.base` for the seam and `dataladder.generate.chat` for how prompts are rendered.
"""

from dataladder.generate.base import BACKENDS, Generator, GenOptions, PromptOptions, cut_at_stop
from dataladder.generate.chat import ChatPolicy, Prompt, encode_example, encode_prompt

__all__ = ["BACKENDS", "ChatPolicy", "GenOptions", "PromptOptions", "Generator", "Prompt", "cut_at_stop", "encode_example",
           "encode_prompt", "make_generator"]


def make_generator(options: GenOptions | None = None, model=None, tokenizer=None) -> Generator:
    """A generator of the chosen backend; `hf` needs the loaded `model` and `tokenizer`."""
    import dataladder.generate.endpoint  # noqa: F401  (each registers its backend in BACKENDS)
    import dataladder.generate.hf  # noqa: F401

    options = options or GenOptions()
    return BACKENDS.get(options.backend).create(options, model=model, tokenizer=tokenizer)
