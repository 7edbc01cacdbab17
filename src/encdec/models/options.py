"""The checks every model's constructor makes on its own options, with messages that name the
config key (`model.<name>`) and a value that works."""

from __future__ import annotations


def check_sizes(nullable: tuple[str, ...] = (), **sizes: object) -> None:
    """Each size must be a positive whole number (those in `nullable` may also be None)."""
    for name, value in sizes.items():
        if value is None and name in nullable:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            null = " (or null for the default)" if name in nullable else ""
            raise ValueError(
                f"model.{name}={value} is not allowed: it must be a positive whole number{null}. "
                f"Set it on the command line, e.g. model.{name}=256."
            )


def check_dropout(dropout: float, name: str = "dropout", example: float = 0.3) -> None:
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise ValueError(
            f"model.{name}={dropout} is not a probability below 1. Use a value in [0, 1), "
            f"e.g. model.{name}={example}."
        )
