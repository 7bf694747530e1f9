"""Training recipes over TRL: each reads top to bottom and calls TRL's trainer directly."""
