"""The response side of the ``lean`` engine's wire format: HEADERS and DATA frames.

``hyperframe`` serialises every frame; what is kept here is how a response is
cut into frames (HEADERS followed by CONTINUATION past the peer's
SETTINGS_MAX_FRAME_SIZE, DATA in frames of at most that size) and the reuse of
one frame object per kind and flags, since building a ``hyperframe`` frame (its
mixins and its ``Flags`` set) costs more than serialising it.  Flow control is
the engine's: the writer writes what it is given.
"""

from __future__ import annotations

from typing import Any

from hyperframe.frame import ContinuationFrame, DataFrame, HeadersFrame


def _template(kind: type, *flags: str) -> Any:
    """A frame object reused for every frame of its kind and flags (``__init__`` is the cost)."""
    frame = kind(1)
    for flag in flags:
        frame.flags.add(flag)
    return frame


class FrameWriter:
    """Serialises a connection's HEADERS and DATA frames onto its output list."""

    __slots__ = ("out", "max_frame", "_data", "_data_end", "_headers", "_headers_end")

    def __init__(self, out: list[bytes]) -> None:
        self.out = out  # the engine's queue of bytes for the peer
        self.max_frame = 16384  # the peer's SETTINGS_MAX_FRAME_SIZE
        self._data = _template(DataFrame)
        self._data_end = _template(DataFrame, "END_STREAM")
        self._headers = _template(HeadersFrame, "END_HEADERS")
        self._headers_end = _template(HeadersFrame, "END_HEADERS", "END_STREAM")

    def headers(self, stream_id: int, block: bytes, end: bool) -> None:
        """HEADERS with the encoded ``block`` (and CONTINUATION frames past the frame size)."""
        size = self.max_frame
        if len(block) <= size:
            frame = self._headers_end if end else self._headers
            frame.stream_id = stream_id
            frame.data = block
            self.out.append(frame.serialize())
            return
        first = HeadersFrame(stream_id, block[:size])
        if end:
            first.flags.add("END_STREAM")
        frames = [first.serialize()]
        for offset in range(size, len(block), size):
            frame = ContinuationFrame(stream_id, block[offset : offset + size])
            if offset + size >= len(block):
                frame.flags.add("END_HEADERS")
            frames.append(frame.serialize())
        self.out.append(b"".join(frames))

    def data(self, stream_id: int, data: bytes, end: bool) -> None:
        """DATA frames for ``data``; ``end`` sets END_STREAM on the last."""
        length = len(data)
        size = self.max_frame
        out = self.out
        if length <= size:
            frame = self._data_end if end else self._data
            frame.stream_id = stream_id
            frame.data = data
            out.append(frame.serialize())
            return
        view = memoryview(data)
        for offset in range(0, length, size):
            last = end and offset + size >= length
            frame = self._data_end if last else self._data
            frame.stream_id = stream_id
            frame.data = view[offset : offset + size]
            out.append(frame.serialize())
