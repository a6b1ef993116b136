"""Random number generation: one seeded NumPy ``Generator`` behind every random op.

``cr.manual_seed(seed)`` reseeds the default generator, as ``torch.manual_seed`` does.
A ``cr.Generator`` can be passed explicitly (``DataLoader(generator=...)``,
``cr.randn(..., generator=...)``) for streams independent of the default one. Its state
is a plain JSON-able dict, so a checkpoint can store it without pickle.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

__all__ = [
    "Generator",
    "default_generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
]


class Generator:
    """A seeded stream of random numbers (PCG64 underneath), like ``torch.Generator``."""

    def __init__(self, seed: int | None = None) -> None:
        self._seed = 0 if seed is None else int(seed)
        self.np = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        """Reseed this generator; returns it, as PyTorch's does."""
        self._seed = int(seed)
        self.np = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseed from fresh OS entropy and return the new seed."""
        new = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(new)
        return new

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict[str, Any]:
        """The generator's state as a JSON-able dict (for checkpoints)."""
        return {"seed": self._seed, "bit_generator": copy.deepcopy(self.np.bit_generator.state)}

    def set_state(self, state: dict[str, Any]) -> Generator:
        if not isinstance(state, dict) or "bit_generator" not in state:
            raise ValueError("Generator.set_state: expected a dict from Generator.get_state()")
        self._seed = int(state.get("seed", 0))
        bit_generator = np.random.PCG64()
        bit_generator.state = copy.deepcopy(state["bit_generator"])
        self.np = np.random.Generator(bit_generator)
        return self

    def __repr__(self) -> str:
        return f"<chainrule.Generator seed={self._seed}>"


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (``torch.manual_seed``)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> dict[str, Any]:
    return default_generator.get_state()


def set_rng_state(state: dict[str, Any]) -> None:
    default_generator.set_state(state)


def _np_generator(generator: Generator | None) -> np.random.Generator:
    """The NumPy generator to draw from: the given one, or the default."""
    return (generator or default_generator).np
