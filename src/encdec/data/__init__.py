"""Data: raw files -> datasets.Dataset -> tokenizer -> token ids -> length-bucketed batches."""
