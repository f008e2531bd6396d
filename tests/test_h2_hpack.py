"""The HPACK caches of aster's HTTP/2 engines against plain ``hpack``: same fields, always.

The server's socket-level tests (tests/test_http2_*.py) run through these caches on
every request; here the caches meet sequences no client would send on purpose, checked
block by block against an uncached ``hpack.Decoder``.
"""

from __future__ import annotations

import hpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aster.server.protocols.h2_hpack import BLOCK_CACHE, CachingDecoder, ResponseEncoder

NAMES = [b":method", b":path", b"user-agent", b"accept", b"x-trace", b"cookie"]
VALUES = [b"GET", b"/", b"/a", b"h2load", b"*/*", b"1", b"2", b"x" * 300]

field = st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES), st.booleans())
#: A block: its fields (each may be indexed or never indexed), and maybe a table size first.
block = st.tuples(
    st.lists(field, min_size=1, max_size=6), st.none() | st.sampled_from([0, 64, 256, 4096])
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(block, min_size=1, max_size=4), min_size=1, max_size=25))
def test_caching_decoder_decodes_as_hpack_does(groups: list) -> None:
    """Inserting and non-inserting blocks, repeated and interleaved, with table size
    updates: every block decodes exactly as an uncached decoder decodes it."""
    encoder = hpack.Encoder()
    plain = hpack.Decoder()
    cached = CachingDecoder()
    sent = []
    for group in groups:
        for fields, size in group:
            if size is not None:
                encoder.header_table_size = size
            headers = [
                hpack.NeverIndexedHeaderTuple(n, v) if never else (n, v) for n, v, never in fields
            ]
            sent.append(encoder.encode(headers))
        # Resend the group's blocks as they are: repeats hit the cache when the table
        # is unchanged, and must still decode correctly when it is not.
        sent.extend(sent[-len(group) :])
    for data in sent:
        try:
            expected = [tuple(f) for f in plain.decode(data, raw=True)]
        except hpack.HPACKError as exc:
            # A replay the table no longer fits: both fail alike, and HTTP/2 ends the
            # connection there (COMPRESSION_ERROR), so the sequence ends too.
            with pytest.raises(type(exc)):
                cached.decode(data, raw=True)
            return
        assert [tuple(f) for f in cached.decode(data, raw=True)] == expected
        assert cached.header_table.dynamic_entries == plain.header_table.dynamic_entries


def test_repeated_blocks_that_only_reference_the_table_are_cached() -> None:
    encoder = hpack.Encoder()
    decoder = CachingDecoder()
    fields = [(b":method", b"GET"), (b":path", b"/x"), (b"user-agent", b"h2load")]
    first = encoder.encode(fields)  # inserts: never cached
    second = encoder.encode(fields)  # only references: cached
    assert decoder.decode(first, raw=True) == decoder.decode(second, raw=True)
    assert list(decoder._blocks) == [second]
    assert decoder.decode(second, raw=True) is decoder.decode(second, raw=True)
    # A block that inserts clears the cache: what it held may decode otherwise now.
    decoder.decode(encoder.encode([(b"x-new", b"1")]), raw=True)
    assert decoder._blocks == {}


def test_block_cache_is_bounded() -> None:
    encoder = hpack.Encoder()
    decoder = CachingDecoder()
    for i in range(BLOCK_CACHE * 3):
        # Never inserting, each block different.
        path = hpack.NeverIndexedHeaderTuple(b":path", b"/%d" % i)
        decoder.decode(encoder.encode([(b":method", b"GET"), path]), raw=True)
    assert 0 < len(decoder._blocks) <= BLOCK_CACHE


def test_response_encoder_never_indexes_and_says_so() -> None:
    encoder = ResponseEncoder()
    decoder = hpack.Decoder()
    fields = [(b":status", b"200"), (b"server", b"aster"), (b"content-type", b"text/plain")]
    first = encoder.encode(fields)
    assert first[:1] == b"\x20"  # a dynamic table size update to 0 opens the first block
    assert decoder.decode(first, raw=True) == fields
    assert decoder.header_table_size == 0
    for _ in range(3):
        block = encoder.encode(fields)
        assert block == first[1:]  # a pure function of the fields, once the size is said
        assert decoder.decode(block, raw=True) == fields
    assert len(decoder.header_table.dynamic_entries) == 0
    # The peer's SETTINGS_HEADER_TABLE_SIZE is a maximum: 0 stays within any.
    encoder.header_table_size = 100
    assert encoder.encode(fields) == first[1:]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(NAMES[2:]), st.sampled_from(VALUES)), max_size=6),
        min_size=1,
        max_size=20,
    )
)
def test_response_encoder_blocks_decode_to_their_fields(responses: list) -> None:
    encoder = ResponseEncoder()
    decoder = hpack.Decoder()
    for fields in responses:
        headers = [(b":status", b"200"), *fields]
        assert decoder.decode(encoder.encode(headers), raw=True) == headers
