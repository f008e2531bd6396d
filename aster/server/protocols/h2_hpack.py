"""HPACK for a server that sees the same header blocks again and again, still coded by ``hpack``.

Both caches below keep ``hpack``'s own encoder and decoder as the only code
that reads or writes HPACK; they only avoid running them twice on the same
input when the answer cannot differ.

* **Responses** are encoded without the dynamic table: the encoder's table
  size is set to 0, which ``hpack`` signals to the peer with a dynamic table
  size update at the start of the first block (RFC 7541 section 6.3).  With
  an empty table every field's encoding is a pure function of its name and
  value, so each field is encoded once and a block is a join of cached
  pieces.  A response costs some bytes more than with indexing (its regular
  fields go as Huffman literals every time) and no CPU.
* **Requests** from one client repeat byte for byte once their fields sit
  in the dynamic table (``h2load``, browsers, gRPC stubs all do this).  A
  block whose decoding left the table as it was decodes the same way while
  the table stays unchanged, so it is cached by its bytes; a block that
  inserts or resizes is never cached, and any change of the table clears
  the cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import hpack

#: Fields cached per encoder, and blocks per decoder (both per connection).
FIELD_CACHE = 512
BLOCK_CACHE = 64
#: Longer blocks are rare (first requests, big cookies) and not worth a cache slot.
BLOCK_CACHE_MAX_LENGTH = 512

Fields = Sequence[tuple[bytes, bytes]]


class ResponseEncoder(hpack.Encoder):
    """An ``hpack`` encoder that never indexes, with its per-field encodings cached."""

    def __init__(self) -> None:
        super().__init__()
        # hpack signals this (a size update to 0) at the start of the first block.
        hpack.Encoder.header_table_size.fset(self, 0)  # type: ignore[attr-defined]
        self._fields: dict[tuple[bytes, bytes], bytes] = {}

    @property  # type: ignore[override]
    def header_table_size(self) -> int:
        return 0

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        """The peer's SETTINGS_HEADER_TABLE_SIZE is a maximum, and 0 is within every one."""

    def encode(self, headers: Iterable[Any], huffman: bool = True) -> bytes:
        if self.header_table.resized or not huffman:
            return super().encode(headers, huffman)  # the first block carries the size update
        cache = self._fields
        parts = []
        for field in headers:
            encoded = cache.get(field)  # type: ignore[call-overload]
            if encoded is None:
                encoded = super().encode((field,))
                if not isinstance(field, hpack.HeaderTuple):  # (which may ask for never-indexed)
                    if len(cache) >= FIELD_CACHE:
                        cache.clear()  # e.g. a date field a second: start again
                    cache[field] = encoded
            parts.append(encoded)
        return b"".join(parts)


class CachingDecoder(hpack.Decoder):
    """An ``hpack`` decoder that remembers the blocks whose decoding left its table alone."""

    def __init__(self, max_header_list_size: int = hpack.hpack.DEFAULT_MAX_HEADER_LIST_SIZE):
        super().__init__(max_header_list_size)
        self._blocks: dict[bytes, Fields] = {}

    def decode(self, data: bytes, raw: bool = False) -> Any:
        if not raw:
            return super().decode(data, raw)
        blocks = self._blocks
        fields = blocks.get(data)
        if fields is not None:
            return fields
        table = self.header_table
        entries = table.dynamic_entries
        length = len(entries)
        first = entries[0] if length else None
        size = table.maxsize
        fields = tuple(super().decode(data, True))
        unchanged = len(entries) == length and (entries[0] if length else None) is first
        if unchanged and table.maxsize == size:
            if len(data) <= BLOCK_CACHE_MAX_LENGTH:
                if len(blocks) >= BLOCK_CACHE:
                    blocks.clear()
                blocks[bytes(data)] = fields
        elif blocks:
            blocks.clear()  # the table changed: what was cached may decode otherwise now
        return fields
