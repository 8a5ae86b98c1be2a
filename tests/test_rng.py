"""Counter-based random streams: batch independence and basic quality."""

import numpy as np

from improvesim.sim import rng


def test_a_run_gets_the_same_numbers_alone_or_in_a_batch():
    keys = rng.run_keys([11, 22, 33])
    batch = rng.uniform_block(keys, "coaching", 0, 12, (40, 3))
    alone = rng.uniform_block(keys[1:2], "coaching", 0, 12, (40, 3))
    assert np.array_equal(batch[1], alone[0])


def test_padding_does_not_change_numbers():
    keys = rng.run_keys([5])
    small = rng.uniform(keys, "coach_turnover", 3, (4,))
    padded = rng.uniform(keys, "coach_turnover", 3, (9,))
    assert np.array_equal(small[0], padded[0, :4])


def test_month_blocks_equal_single_months():
    keys = rng.run_keys([7, 8])
    block = rng.uniform_block(keys, "engagement", 24, 12, (10, 2))
    assert np.array_equal(block[:, 5], rng.uniform(keys, "engagement", 29, (10, 2)))


def test_streams_and_seeds_differ():
    k = rng.run_keys([1, 2])
    a = rng.uniform(k, "coaching", 0, (1000,))
    b = rng.uniform(k, "engagement", 0, (1000,))
    assert not np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])


def test_uniformity_and_independence_within_sampling_error():
    u = rng.uniform_block(rng.run_keys([2024]), "improvement", 0, 12, (5000, 2)).ravel()
    n = u.size
    assert u.min() >= 0.0 and u.max() < 1.0
    # mean and lag-1 correlation within 5 standard errors of their expectations
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / np.sqrt(n)
    counts, _ = np.histogram(u, bins=20, range=(0, 1))
    chi2 = ((counts - n / 20) ** 2 / (n / 20)).sum()
    assert chi2 < 50  # 19 degrees of freedom: P(chi2 > 50) < 1e-4


def test_derived_seeds_are_prefix_stable_and_distinct():
    five = rng.derive_seeds(1, 5)
    assert rng.derive_seeds(1, 500)[:5] == five
    assert len(set(rng.derive_seeds(1, 10_000))) == 10_000
    assert rng.derive_seeds(0, 3) != rng.derive_seeds(1, 3)  # seed 0 is a seed, not "no seed"


def test_a_stream_set_draws_what_each_stream_draws_alone():
    """StreamSet.blocks (one compiled pass over every stream) gives, bit for bit, the
    NumPy hash of block_from_counters for each stream, at any first month."""
    keys = rng.run_keys([3, 2**40 + 1, 99])
    shapes = rng.draw_shapes(schools=5, team_size=4, coaches=2)
    several = rng.several_draws()
    streams = rng.StreamSet(keys, shapes, draws_first=several)
    for first in (0, 12, 119):
        blocks = streams.blocks(first, 12)
        for stream, shape in shapes.items():
            alone = rng.block_from_counters(rng.stream_counters(keys, stream, shape), first, 12)  # (R, months, *shape)
            alone = np.moveaxis(alone, 1, 0)  # (months, R, *shape)
            if stream in several:
                alone = np.moveaxis(alone, -1, 1)  # (months, draws, R, *rest)
            assert blocks[stream].flags.c_contiguous
            assert blocks[stream].tobytes() == np.ascontiguousarray(alone).tobytes(), (stream, first)
