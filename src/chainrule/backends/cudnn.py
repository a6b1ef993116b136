"""``cr.backends.cudnn``: the flags scripts set for reproducibility or speed.

chainrule is deterministic and has no cuDNN; ``deterministic``, ``benchmark``,
``enabled`` and ``allow_tf32`` are plain attributes that scripts may set and read back.
"""

__all__ = ["is_available", "version", "deterministic", "benchmark", "enabled", "allow_tf32"]

deterministic = False
benchmark = False
enabled = True
allow_tf32 = True


def is_available() -> bool:
    return False


def version() -> None:
    return None
