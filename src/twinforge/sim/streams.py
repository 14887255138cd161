"""Independent, reproducible random streams.

Every random quantity of a replication draws from its own stream, keyed by
``(seed, replication, node, purpose)`` through :class:`numpy.random.SeedSequence`. The key is
derived from the *names* (a stable hash), not from the order in which streams are created, so a
scenario that changes or removes one node leaves every other node's random numbers unchanged.
That is what makes common random numbers effective when a baseline and a scenario are compared.

Draws are taken from the generator in blocks and handed out one at a time through a plain Python
iterator (``next(sampler)``): one numpy call per block instead of one per draw.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator

import numpy as np

from twinforge.spec.distributions import Constant, Distribution

BLOCK = 512


def name_key(text: str) -> int:
    """A stable 64-bit integer for a name (independent of Python's hash randomisation)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def seed_sequence(seed: int, replication: int, node: str, purpose: str) -> np.random.SeedSequence:
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, found {seed}")
    return np.random.SeedSequence(entropy=seed, spawn_key=(replication, name_key(node), name_key(purpose)))


class Streams:
    """Random streams of one replication."""

    __slots__ = ("replication", "seed")

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = int(seed)
        self.replication = int(replication)

    def generator(self, node: str, purpose: str) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64(seed_sequence(self.seed, self.replication, node, purpose)))

    def sampler(
        self, dist: Distribution, node: str, purpose: str, lower: float | None = 0.0
    ) -> Iterator[float]:
        """Endless draws of ``dist`` for ``(node, purpose)``; values below ``lower`` are raised to it
        (a normal process time cannot be negative)."""
        if isinstance(dist, Constant):
            value = dist.value if lower is None else max(dist.value, lower)
            return itertools.repeat(float(value))
        return block_draws(dist, self.generator(node, purpose), lower)

    def uniforms(self, node: str, purpose: str) -> Iterator[float]:
        rng = self.generator(node, purpose)

        def gen() -> Iterator[float]:
            while True:
                yield from rng.random(BLOCK).tolist()

        return gen()

    def exponentials(self, node: str, purpose: str) -> Iterator[float]:
        """Draws of Exp(1)."""
        rng = self.generator(node, purpose)

        def gen() -> Iterator[float]:
            while True:
                yield from rng.standard_exponential(BLOCK).tolist()

        return gen()


def block_draws(dist: Distribution, rng: np.random.Generator, lower: float | None = 0.0) -> Iterator[float]:
    def gen() -> Iterator[float]:
        while True:
            block = np.asarray(dist.sample(rng, BLOCK), dtype=float)
            if lower is not None:
                np.maximum(block, lower, out=block)
            yield from block.tolist()

    return gen()
