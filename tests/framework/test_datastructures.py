"""aster.datastructures: Starlette's URL, headers, multi-dicts and uploads, and FastAPI's extras."""

from __future__ import annotations

import asyncio
import io
import pickle
import random
import threading
import warnings
from tempfile import SpooledTemporaryFile
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from aster import status
from aster._multidict import parse_query_string
from aster.datastructures import (
    URL,
    Address,
    CommaSeparatedStrings,
    Default,
    DefaultPlaceholder,
    FormData,
    Headers,
    ImmutableMultiDict,
    MultiDict,
    MutableHeaders,
    QueryParams,
    Secret,
    State,
    UploadFile,
    URLPath,
    _Unset,
)
from aster.exceptions import StarletteDeprecationWarning

# -- QueryParams -----------------------------------------------------------------


def test_query_params_repeated_keys_blank_values() -> None:
    q = QueryParams("a=1&a=2&b=&c")
    assert q.multi_items() == [("a", "1"), ("a", "2"), ("b", ""), ("c", "")]
    assert q["a"] == "2"
    assert q.get("a") == "2"
    assert q.getlist("a") == ["1", "2"]
    assert q.get("missing") is None
    assert q.get("missing", "d") == "d"
    assert q.getlist("missing") == []
    assert dict(q) == {"a": "2", "b": "", "c": ""}
    assert list(q) == ["a", "b", "c"]
    assert len(q) == 3
    assert "c" in q and "z" not in q
    assert str(q) == "a=1&a=2&b=&c="
    assert repr(q) == "QueryParams('a=1&a=2&b=&c=')"


@pytest.mark.parametrize(
    ("raw", "items"),
    [
        ("", []),
        ("&&", []),
        ("=x", [("", "x")]),
        ("a==b", [("a", "=b")]),
        ("a=1;b=2", [("a", "1;b=2")]),
        ("a=%20+b&c=%zz", [("a", "  b"), ("c", "%zz")]),
        ("x=%C3%A9&%E2%82%AC=1", [("x", "é"), ("€", "1")]),
        ("bad=%C3", [("bad", "\ufffd")]),
        ("a+b=c+d", [("a b", "c d")]),
        (b"a=\xc3\xa9", [("a", "Ã©")]),  # raw bytes are latin-1, as in Starlette
        (b"k=v+w&e=%C3%A9", [("k", "v w"), ("e", "é")]),
    ],
)
def test_query_params_parsing(raw: str | bytes, items: list[tuple[str, str]]) -> None:
    assert QueryParams(raw).multi_items() == items


def test_query_string_parser_matches_parse_qsl() -> None:
    rnd = random.Random(3)
    alphabet = "ab=&%+;25CAé\x00 zF3E0"
    for _ in range(20000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        assert parse_query_string(text) == parse_qsl(text, keep_blank_values=True), text


def test_query_params_from_other_inputs() -> None:
    assert QueryParams({"a": 1, "b": [1]}).multi_items() == [("a", "1"), ("b", "[1]")]
    assert QueryParams([("a", 1), ("a", 2)], b=3).multi_items() == [
        ("a", "1"),
        ("a", "2"),
        ("b", "3"),
    ]
    assert QueryParams("a=1", b="2").multi_items() == [("a", "1"), ("b", "2")]
    assert QueryParams(QueryParams("x=1")).multi_items() == [("x", "1")]
    assert QueryParams().multi_items() == []
    assert str(QueryParams([("a b", "c&d")])) == "a+b=c%26d"
    assert QueryParams("a=1&b=2") == QueryParams("b=2&a=1")
    assert QueryParams("a=1") != ImmutableMultiDict([("a", "1")])
    with pytest.raises(AssertionError, match="Too many arguments."):
        QueryParams("a", "b")  # type: ignore[call-arg]


# -- URL ------------------------------------------------------------------------------

FULL = "https://user:pw@example.com:8080/p/a?x=1&y=2#frag"


def test_url_components() -> None:
    url = URL(FULL)
    assert (url.scheme, url.netloc, url.path, url.query, url.fragment) == (
        "https",
        "user:pw@example.com:8080",
        "/p/a",
        "x=1&y=2",
        "frag",
    )
    assert (url.username, url.password, url.hostname, url.port) == (
        "user",
        "pw",
        "example.com",
        8080,
    )
    assert url.is_secure and URL("wss://h").is_secure and not URL("ws://h").is_secure
    assert url.components.geturl() == FULL
    assert str(url) == FULL
    assert repr(url) == "URL('https://user:********@example.com:8080/p/a?x=1&y=2#frag')"
    assert repr(URL("http://h/")) == "URL('http://h/')"
    assert url == FULL and url == URL(FULL) and url != "http://other/"


def test_url_replace() -> None:
    url = URL(FULL)
    assert str(url.replace(hostname="::1")) == "https://user:pw@[::1]:8080/p/a?x=1&y=2#frag"
    assert str(url.replace(port=None)) == "https://user:pw@example.com/p/a?x=1&y=2#frag"
    assert str(url.replace(username="bob")) == "https://bob:pw@example.com:8080/p/a?x=1&y=2#frag"
    assert str(url.replace(password="x")) == "https://user:x@example.com:8080/p/a?x=1&y=2#frag"
    assert (
        str(url.replace(scheme="http", path="/z"))
        == "http://user:pw@example.com:8080/z?x=1&y=2#frag"
    )
    assert str(URL("http://[::1]:80/").replace(username="x")) == "http://x@[::1]:80/"
    assert str(URL("http://a/b").replace(port=81)) == "http://a:81/b"
    assert str(URL(scheme="https", netloc="x.org", path="/y", query="a=1")) == "https://x.org/y?a=1"


def test_url_query_param_helpers() -> None:
    url = URL("http://h/p?x=1&y=2&x=3")
    assert str(url.include_query_params(x=5, z="a b")) == "http://h/p?y=2&x=5&z=a+b"
    assert str(url.replace_query_params(k="v")) == "http://h/p?k=v"
    assert str(url.remove_query_params("x")) == "http://h/p?y=2"
    assert str(url.remove_query_params(["x", "y"])) == "http://h/p"


def _scope(**changes: Any) -> dict[str, Any]:
    scope = {
        "type": "http",
        "scheme": "http",
        "path": "/p",
        "query_string": b"",
        "headers": [],
        "server": ("testserver", 80),
    }
    scope.update(changes)
    return scope


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "http://testserver/p"),
        ({"headers": [(b"host", b"example.com:8000")]}, "http://example.com:8000/p"),
        ({"headers": [(b"host", b"[::1]:9")]}, "http://[::1]:9/p"),
        ({"headers": [(b"host", b"[v1.fe]:80")]}, "http://[v1.fe]:80/p"),
        # A Host header that could change the authority or path is ignored.
        ({"headers": [(b"host", b"bad host")]}, "http://testserver/p"),
        ({"headers": [(b"host", b"a@b")]}, "http://testserver/p"),
        ({"headers": [(b"host", b"[zz::1]:9")]}, "http://testserver/p"),
        ({"headers": [(b"host", b"h:99999")]}, "http://testserver/p"),
        ({"headers": [(b"host", b"")]}, "http://testserver/p"),
        ({"headers": [(b"host", b"h:000080")]}, "http://h:000080/p"),
        ({"server": ("::1", 8080)}, "http://[::1]:8080/p"),
        ({"server": ("h", 443), "scheme": "https"}, "https://h/p"),
        ({"server": ("h", 80), "scheme": "ws"}, "ws://h/p"),
        ({"server": None}, "/p"),
        ({"server": None, "path": "//evil"}, "/%2Fevil"),
        ({"path": "/a?b#c\\d", "query_string": b"x=1"}, "http://testserver/a%3Fb%23c%5Cd?x=1"),
        ({"path": ""}, "http://testserver"),
        ({"server": ("", 80), "path": "//x"}, "http://x"),
    ],
)
def test_url_from_scope(changes: dict[str, Any], expected: str) -> None:
    assert str(URL(scope=_scope(**changes))) == expected


def test_url_argument_conflicts() -> None:
    with pytest.raises(AssertionError, match='Cannot set both "url" and "scope".'):
        URL("http://h", scope=_scope())
    with pytest.raises(AssertionError, match='Cannot set both "url" and "\\*\\*components".'):
        URL("http://h", path="/x")


def test_url_path() -> None:
    assert str(URLPath("/a", "http", "h").make_absolute_url("https://x.org/root/")) == (
        "https://h/root/a"
    )
    assert str(URLPath("/a", "websocket").make_absolute_url(URL("https://x.org"))) == (
        "wss://x.org/a"
    )
    assert str(URLPath("/a", "websocket").make_absolute_url("http://x.org")) == "ws://x.org/a"
    assert str(URLPath("/a").make_absolute_url("http://x.org/r")) == "http://x.org/r/a"
    assert URLPath("//a") == "/%2Fa"
    assert URLPath("/a\\b") == "/a%5Cb"
    path = URLPath("/x", protocol="http", host="h")
    assert (path.protocol, path.host, isinstance(path, str)) == ("http", "h", True)
    with pytest.raises(AssertionError):
        URLPath("/x", protocol="ftp")  # type: ignore[arg-type]


# -- Headers ----------------------------------------------------------------------------


def test_headers_are_case_insensitive_multi_valued() -> None:
    h = Headers(raw=[(b"a", b"1"), (b"a", b"2"), (b"content-type", b"text/html")])
    assert h["A"] == "1"
    assert h.get("Content-Type") == "text/html"
    assert h.get("x") is None and h.get("x", 5) == 5
    assert h.getlist("a") == ["1", "2"]
    assert "A" in h and "z" not in h
    assert h.keys() == ["a", "a", "content-type"]
    assert h.values() == ["1", "2", "text/html"]
    assert h.items() == [("a", "1"), ("a", "2"), ("content-type", "text/html")]
    assert list(h) == ["a", "a", "content-type"]
    assert len(h) == 3
    assert repr(h) == "Headers(raw=[(b'a', b'1'), (b'a', b'2'), (b'content-type', b'text/html')])"
    with pytest.raises(KeyError, match="missing"):
        h["missing"]
    raw = h.raw
    raw.append((b"x", b"y"))
    assert len(h) == 3  # raw is a copy for immutable headers


def test_headers_constructors_and_equality() -> None:
    assert repr(Headers({"X-A": "1", "B": "2"})) == "Headers({'x-a': '1', 'b': '2'})"
    assert repr(Headers()) == "Headers({})"
    assert Headers({"a": "1"}) == Headers(raw=[(b"a", b"1")])
    assert Headers(raw=[(b"a", b"1"), (b"b", b"2")]) == Headers(raw=[(b"b", b"2"), (b"a", b"1")])
    assert Headers({"a": "1"}) != {"a": "1"}
    assert Headers({"é": "ü"}).raw == [(b"\xe9", b"\xfc")]  # latin-1 both ways
    with pytest.raises(AssertionError, match='Cannot set both "headers" and "raw".'):
        Headers({"a": "1"}, raw=[])
    with pytest.raises(AssertionError, match='Cannot set both "raw" and "scope".'):
        Headers(raw=[], scope={"headers": []})


def test_headers_from_scope_wrap_the_scope_list() -> None:
    raw = [(b"x", b"1")]
    scope: dict[str, Any] = {"headers": raw}
    assert Headers(scope=scope)._list is raw  # no copy per request
    tuple_scope: dict[str, Any] = {"headers": ((b"x", b"1"),)}
    headers = MutableHeaders(scope=tuple_scope)
    headers["y"] = "2"
    assert tuple_scope["headers"] == [(b"x", b"1"), (b"y", b"2")]


def test_mutable_headers() -> None:
    scope: dict[str, Any] = {"headers": ((b"x", b"1"),)}
    m = MutableHeaders(scope=scope)
    m["Y"] = "2"
    m.append("x", "3")
    m["x"] = "9"  # replaces the first, removes the rest
    assert m.setdefault("z", "a") == "a"
    assert m.setdefault("Y", "no") == "2"
    m.add_vary_header("Accept")
    m.add_vary_header("Origin")
    m.update({"Q": "r"})
    m |= {"w": "1"}
    merged = m | {"e": "f"}
    del m["q"]
    expected = [
        (b"x", b"9"),
        (b"y", b"2"),
        (b"z", b"a"),
        (b"vary", b"Accept, Origin"),
        (b"w", b"1"),
    ]
    assert m.raw == expected
    assert scope["headers"] == expected and m.raw is scope["headers"]
    assert type(merged) is MutableHeaders
    assert merged.raw[-3:] == [(b"q", b"r"), (b"w", b"1"), (b"e", b"f")]
    assert repr(m) == (
        "MutableHeaders({'x': '9', 'y': '2', 'z': 'a', 'vary': 'Accept, Origin', 'w': '1'})"
    )
    with pytest.raises(TypeError, match="Expected a mapping but got list"):
        m |= [("a", "b")]  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Expected a mapping but got list"):
        m | [("a", "b")]  # type: ignore[operator]


def test_mutable_copy_is_independent() -> None:
    h = Headers(raw=[(b"a", b"1")])
    copy = h.mutablecopy()
    copy.append("k", "v")
    del copy["a"]
    assert h.raw == [(b"a", b"1")]
    assert copy.raw == [(b"k", b"v")]


# -- Multi-dicts ----------------------------------------------------------------------


def test_multidict_operations() -> None:
    m = MultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    assert repr(m) == "MultiDict([('a', '1'), ('a', '2'), ('b', '3')])"
    assert (m["a"], m.getlist("a")) == ("2", ["1", "2"])
    m["a"] = "x"
    assert m.multi_items() == [("b", "3"), ("a", "x")]
    m.append("a", "y")
    assert m.pop("a") == "y"
    assert m.multi_items() == [("b", "3")]
    m.setlist("c", ["1", "2"])
    assert m.multi_items() == [("b", "3"), ("c", "1"), ("c", "2")]
    m.setlist("c", [])
    assert m.setdefault("d", "z") == "z" and m.setdefault("d", "q") == "z"
    m.update([("b", "7"), ("b", "8")], e="9")
    assert m.multi_items() == [("d", "z"), ("b", "7"), ("b", "8"), ("e", "9")]
    assert m.poplist("b") == ["7", "8"]
    assert m.popitem() == ("e", "9")
    del m["d"]
    assert m.multi_items() == []
    m.append("k", "v")
    m.clear()
    assert (len(m), m.multi_items()) == (0, [])
    assert MultiDict(a=1) == MultiDict([("a", 1)])


def test_immutable_multidict() -> None:
    d = ImmutableMultiDict(MultiDict([("a", 1), ("a", 2)]), b=2)
    assert d.multi_items() == [("a", 1), ("a", 2), ("b", 2)]
    assert list(d.keys()) == ["a", "b"] and list(d.values()) == [2, 2]
    assert list(d.items()) == [("a", 2), ("b", 2)]
    assert repr(ImmutableMultiDict({"a": 1})) == "ImmutableMultiDict([('a', 1)])"
    assert d == ImmutableMultiDict([("b", 2), ("a", 1), ("a", 2)])
    assert not hasattr(d, "__setitem__")
    assert type(d).__module__ == "aster.datastructures"


# -- Uploads --------------------------------------------------------------------------


def test_upload_file_in_memory() -> None:
    async def main() -> tuple[Any, ...]:
        upload = UploadFile(
            SpooledTemporaryFile(max_size=10),  # noqa: SIM115
            size=0,
            filename="a.txt",
            headers=Headers({"content-type": "text/plain"}),
        )
        await upload.write(b"hello")
        await upload.seek(0)
        data = await upload.read()
        in_memory = not upload.file._rolled  # type: ignore[attr-defined]
        await upload.close()
        return data, upload.size, in_memory, upload.file.closed, upload.content_type

    assert asyncio.run(main()) == (b"hello", 5, True, True, "text/plain")


def test_upload_file_rolled_to_disk_uses_the_threadpool() -> None:
    threads: list[str] = []

    class Tracking(SpooledTemporaryFile):  # type: ignore[type-arg]
        def write(self, data: bytes) -> int:  # type: ignore[override]
            threads.append(threading.current_thread().name)
            return super().write(data)

        def read(self, *args: Any) -> bytes:
            threads.append(threading.current_thread().name)
            return super().read(*args)

    async def main() -> tuple[Any, ...]:
        upload = UploadFile(Tracking(max_size=4), size=0, filename="f")
        await upload.write(b"ab")  # fits: written on the loop
        await upload.write(b"cdef")  # rolls over: written in a worker
        await upload.seek(0)
        data = await upload.read()
        await upload.close()
        return data, upload.size, upload.file._rolled  # type: ignore[attr-defined]

    assert asyncio.run(main()) == (b"abcdef", 6, True)
    assert threads[0] == "MainThread"
    assert threads[1].startswith("aster-worker") and threads[2].startswith("aster-worker")


def test_upload_file_repr_and_defaults() -> None:
    upload = UploadFile(io.BytesIO(b"x"), filename="f")
    assert repr(upload) == "UploadFile(filename='f', size=None, headers=Headers({}))"
    assert upload.content_type is None
    assert upload.size is None


def test_upload_file_as_pydantic_type() -> None:
    adapter = TypeAdapter(UploadFile)
    assert adapter.json_schema() == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
    }
    upload = UploadFile(io.BytesIO(b"x"))
    assert adapter.validate_python(upload) is upload
    with pytest.raises(ValidationError) as info:
        adapter.validate_python("x")
    error = info.value.errors(include_url=False)[0]
    assert error["type"] == "value_error"
    assert error["msg"] == "Value error, Expected UploadFile, received: <class 'str'>"

    class Model(BaseModel):
        files: list[UploadFile]

    assert Model(files=[upload]).files[0] is upload
    assert Model.model_json_schema()["properties"]["files"] == {
        "items": {"contentMediaType": "application/octet-stream", "type": "string"},
        "title": "Files",
        "type": "array",
    }


def test_form_data_close_closes_files() -> None:
    first, second = io.BytesIO(b"1"), io.BytesIO(b"2")
    form = FormData([("a", "text"), ("f", UploadFile(first))], g=UploadFile(second))
    assert form["a"] == "text"
    assert repr(FormData([("a", "b")])) == "FormData([('a', 'b')])"
    asyncio.run(form.close())
    assert first.closed and second.closed


# -- Small helpers ---------------------------------------------------------------------


def test_state() -> None:
    state = State()
    state.x = 1
    state["y"] = 2
    assert (state.x, state.y, state["x"], len(state), list(state)) == (1, 2, 1, 2, ["x", "y"])
    del state.x
    del state["y"]
    assert len(state) == 0
    with pytest.raises(AttributeError, match="'State' object has no attribute 'nope'"):
        state.nope  # noqa: B018
    shared: dict[str, Any] = {}
    State(shared).k = "v"
    assert shared == {"k": "v"}
    assert pickle.loads(pickle.dumps(State({"a": 1})))["a"] == 1


def test_secret_and_comma_separated_strings() -> None:
    assert repr(Secret("x")) == "Secret('**********')"
    assert str(Secret("x")) == "x" and not Secret("")
    css = CommaSeparatedStrings("a, 'b,c', d")
    assert repr(css) == "CommaSeparatedStrings(['a', 'b,c', 'd'])"
    assert list(css) == ["a", "b,c", "d"] and len(css) == 3 and css[1:] == ["b,c", "d"]
    assert str(CommaSeparatedStrings("a,b")) == "'a', 'b'"
    assert list(CommaSeparatedStrings(["x"])) == ["x"]


def test_address_and_defaults() -> None:
    address = Address("h", 1)
    assert address == ("h", 1) and address.host == "h" and address.port == 1
    default = Default(3)
    assert isinstance(default, DefaultPlaceholder) and default.value == 3
    assert not Default(0) and Default(1)
    assert Default(1) == Default(1) and Default(1) != 1
    assert isinstance(_Unset, DefaultPlaceholder) and _Unset.value is None


def test_status_codes() -> None:
    assert status.HTTP_200_OK == 200
    assert status.HTTP_418_IM_A_TEAPOT == 418
    assert status.HTTP_422_UNPROCESSABLE_CONTENT == 422
    assert status.WS_1000_NORMAL_CLOSURE == 1000
    assert status.WS_1015_TLS_HANDSHAKE == 1015
    assert len(status.__all__) == 78
    assert all(getattr(status, name) for name in status.__all__)
    with pytest.warns(
        StarletteDeprecationWarning,
        match="'HTTP_422_UNPROCESSABLE_ENTITY' is deprecated. "
        "Use 'HTTP_422_UNPROCESSABLE_CONTENT' instead.",
    ):
        assert status.HTTP_422_UNPROCESSABLE_ENTITY == 422
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert status.HTTP_413_REQUEST_ENTITY_TOO_LARGE == 413
    with pytest.raises(AttributeError):
        status.HTTP_999_NOPE  # noqa: B018
    assert "HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE" in dir(status)
