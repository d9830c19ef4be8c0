from __future__ import annotations

import random

from speech.data.batching import bucket_batches


def _samples(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"id": str(i), "duration": rng.uniform(0.5, 15.0)} for i in range(count)]


def test_batches_respect_the_padded_budget_and_lose_nothing() -> None:
    samples = _samples(1000)
    batches = list(bucket_batches(samples, batch_seconds=60.0, buffer_size=200))
    assert sorted(s["id"] for b in batches for s in b) == sorted(s["id"] for s in samples)
    for batch in batches:
        assert max(s["duration"] for s in batch) * len(batch) <= 60.0
    # Bucketing keeps padding low: well under 10% of the padded seconds are padding.
    padded = sum(max(s["duration"] for s in b) * len(b) for b in batches)
    assert sum(s["duration"] for s in samples) / padded > 0.9


def test_overlong_samples_form_their_own_batch_and_caps_hold() -> None:
    samples = [{"id": "long", "duration": 100.0}, *({"id": str(i), "duration": 0.1} for i in range(50))]
    batches = list(bucket_batches(samples, batch_seconds=30.0, max_batch_size=8))
    assert [s["id"] for s in batches[-1]] == ["long"]
    assert all(len(b) <= 8 for b in batches)


def test_shuffling_is_seeded_and_optional() -> None:
    samples = _samples(300)
    ordered = list(bucket_batches(samples, 40.0, buffer_size=100))
    firsts = [b[0]["duration"] for b in ordered[: len(ordered) // 3]]
    assert firsts == sorted(firsts)  # unshuffled: shortest first within a buffer
    shuffled = [[s["id"] for s in b] for b in bucket_batches(samples, 40.0, buffer_size=100, shuffle_seed=1)]
    again = [[s["id"] for s in b] for b in bucket_batches(samples, 40.0, buffer_size=100, shuffle_seed=1)]
    assert shuffled == again and shuffled != [[s["id"] for s in b] for b in ordered]
