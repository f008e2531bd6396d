"""``json_loads``: pydantic-core parses the happy path; results and errors stay json's."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from aster.requests import json_loads

BODIES = [
    b'{"a":1,"a":2}',
    b"1E400",
    b"-0",
    b"-0.0",
    b'"\\ud800"',
    b'"\\ud83d\\ude00"',
    b"NaN",
    b"[Infinity,-Infinity]",
    b"0.1",
    b"123456789012345678901234567890",
    b"3.141592653589793238462643383279",
    b'"\xff"',
    b"\xef\xbb\xbf{}",
    b" {} ",
    b'"a\nb"',
    b"[1,]",
    b"01",
    b"tru",
    b"[" * 300 + b"]" * 300,
    b'"\xed\xa0\x80"',
    b'{"\xc3\xa9": [true, false, null, {"x": 1.5e3}]}',
    '{"utf16": 1}'.encode("utf-16"),
    b"9" * 5000,
]


def _outcome(parse: Any, body: bytes) -> Any:
    try:
        return ("ok", parse(body))
    except Exception as exc:  # the exact type and message are compared
        return ("error", type(exc), str(exc))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and a == 0.0 == b:
        return math.copysign(1, a) == math.copysign(1, b)
    return bool(type(a) is type(b) and a == b)


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_json_loads_matches_the_stdlib(body: bytes) -> None:
    assert _same(_outcome(json_loads, body), _outcome(json.loads, body))


def test_a_replaced_json_loads_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json, "loads", lambda body: "mocked")
    assert json_loads(b"{}") == "mocked"
