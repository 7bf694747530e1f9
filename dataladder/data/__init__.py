"""Data: training records in TRL format, and deliberate noise for curated-versus-noisy experiments."""
