"""Command-line entry points (Hydra): train, eval."""

import encdec.runs  # noqa: F401  (registers the ${run_id:} resolver of the run folders' names)
