"""Models: the character tokenizer, the tiny Llama, its pretraining recipe, and model loading."""
