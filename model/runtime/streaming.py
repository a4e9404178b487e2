"""Turn generated ids into text one token at a time, honouring stop strings.

Decoding token by token can split a UTF-8 character or a stop string across tokens, so text is
released only when it is final: an incomplete character (U+FFFD at the end) or a tail that could
still grow into a stop string is held back until the next token settles it.
"""
from __future__ import annotations

from typing import Protocol, Sequence


class Decoder(Protocol):
    """Anything that turns token ids into text (our Tokenizer does)."""

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = ...) -> str:
        """Text of `ids`."""


def _partial_stop_length(text: str, stop_strings: Sequence[str]) -> int:
    """Length of the longest tail of `text` that is a proper prefix of some stop string."""
    longest = 0
    for stop in stop_strings:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


class TextStream:
    """Accumulates token ids; `push` returns the newly final text and whether a stop string appeared."""

    def __init__(self, decoder: Decoder | None, stop_strings: Sequence[str] = ()):
        """`decoder` None yields empty text (ids only)."""
        self.decoder, self.stop_strings = decoder, tuple(s for s in stop_strings if s)
        self.ids: list[int] = []
        self.text = ""  # decoded text so far, cut at a stop string once one appears
        self.released = 0  # characters of self.text already handed out

    def _decode(self) -> str:
        if self.decoder is None:
            return ""
        return self.decoder.decode(self.ids, skip_special_tokens=True)

    def push(self, token_id: int) -> tuple[str, bool]:
        """Add one token -> (text that became final, stop string found)."""
        self.ids.append(token_id)
        self.text = self._decode()
        hits = [self.text.find(s) for s in self.stop_strings if s in self.text]
        if hits:
            self.text = self.text[: min(hits)]
            return self.flush(), True
        settled = len(self.text.rstrip("\ufffd"))  # an unfinished UTF-8 character decodes as U+FFFD
        settled -= _partial_stop_length(self.text[:settled], self.stop_strings)
        piece = self.text[self.released:settled] if settled > self.released else ""
        self.released = max(self.released, settled)
        return piece, False

    def add_stop_token(self, token_id: int) -> None:
        """Record a stop token: it ends generation and adds no text."""
        self.ids.append(token_id)

    def flush(self) -> str:
        """Release everything held back (at the end of generation)."""
        piece = self.text[self.released:]
        self.released = len(self.text)
        return piece
