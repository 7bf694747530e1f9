"""One generation layer: prompts → completions for the probe, rung evals, synth, pairs and RL checks.

See `dataladder.generate.base` for the seam and `dataladder.generate.chat` for how prompts are rendered.
"""

from dataladder.generate.base import BACKENDS, Generator, GenOptions, PromptOptions, cut_at_stop, make_generator
from dataladder.generate.chat import ChatPolicy, Prompt, encode_example, encode_prompt

__all__ = ["BACKENDS", "ChatPolicy", "GenOptions", "PromptOptions", "Generator", "Prompt", "cut_at_stop", "encode_example",
           "encode_prompt", "make_generator"]
