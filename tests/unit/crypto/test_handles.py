from __future__ import annotations

import re

import pytest

from authsome.crypto.handles import ADJECTIVES, ANIMALS, COLOURS, new_handle

HANDLE = re.compile(r"[a-z]+-[a-z]+-[a-z]+")


@pytest.mark.parametrize("words", [ADJECTIVES, COLOURS, ANIMALS])
def test_word_lists_are_large_unique_and_plain(words: tuple[str, ...]) -> None:
    assert len(words) >= 64
    assert len(set(words)) == len(words)
    assert all(re.fullmatch(r"[a-z]{2,12}", word) for word in words)


def test_no_word_is_in_two_lists() -> None:
    assert not set(ADJECTIVES) & set(COLOURS)
    assert not set(COLOURS) & set(ANIMALS)
    assert not set(ADJECTIVES) & set(ANIMALS)


def test_handle_is_adjective_colour_animal() -> None:
    for _ in range(50):
        handle = new_handle()
        assert HANDLE.fullmatch(handle)
        adjective, colour, animal = handle.split("-")
        assert adjective in ADJECTIVES
        assert colour in COLOURS
        assert animal in ANIMALS


def test_handles_vary() -> None:
    handles = [new_handle() for _ in range(200)]
    assert len(set(handles)) > 190
    for position in range(3):
        assert len({handle.split("-")[position] for handle in handles}) > 30
