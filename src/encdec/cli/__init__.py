"""Command-line entry points (Hydra): train, eval."""
