"""Sizes told to a sender: French figures, and a size never shown equal to its limit."""

from __future__ import annotations

import pytest

from mailflow.core.sizes import KB, MB, size_fr, sizes_fr


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (1, "1 octet"),
        (800, "800 octets"),
        (20 * KB, "20 Ko"),
        (int(1.5 * KB), "1,5 Ko"),
        (MB // 10, "0,1 Mo"),
        (400_000, "0,4 Mo"),
        (25 * MB, "25 Mo"),
        (35_000_000, "33,4 Mo"),
    ],
)
def test_size_fr(size: int, shown: str) -> None:
    assert size_fr(size) == shown


@pytest.mark.parametrize(
    ("size", "limit", "shown"),
    [
        (30_000, 20_000, ("29,3 Ko", "19,5 Ko")),  # was "0 Mo, alors que la limite est de 0 Mo"
        (10 * MB + 5_000, 10 * MB, ("10,005 Mo", "10 Mo")),  # was "10 Mo ... 10 Mo"
        (10 * MB + 1, 10 * MB, (f"{10 * MB + 1} octets", f"{10 * MB} octets")),
        (4 * MB, 4 * MB, ("4 Mo", "4 Mo")),
    ],
)
def test_sizes_read_apart(size: int, limit: int, shown: tuple[str, str]) -> None:
    assert sizes_fr(size, limit) == shown
