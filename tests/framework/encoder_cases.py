"""Inputs for comparing ``jsonable_encoder`` with FastAPI's.

Each case is ``(name, call)``, where ``call(jsonable_encoder)`` returns the
encoded value.  The module imports nothing from aster or fastapi, so the same
cases can be run against FastAPI to produce the expected results that
``test_encoders.py`` holds (``python tests/framework/encoder_cases.py`` under a
FastAPI install prints them).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import re
import uuid
import warnings
from collections import OrderedDict, defaultdict, deque
from decimal import Decimal
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from pydantic import (
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    NameEmail,
    SecretBytes,
    SecretStr,
    field_serializer,
)
from pydantic_core import PydanticUndefined, Url


class Color(enum.Enum):
    red = "red"
    one = 1


class Flag(str, enum.Enum):
    on = "on"
    sa = "_sa_flag"


class Sub(BaseModel):
    name: str
    when: datetime.date = datetime.date(2020, 1, 2)
    maybe: int | None = None


class Item(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    title: str = Field(alias="Title")
    price: float = 1.5
    tags: list[str] = []
    sub: Sub | None = None
    extra: dict[str, Any] = {}
    secret: SecretStr = SecretStr("pw")
    color: Color = Color.red


class Serialized(BaseModel):
    dt: datetime.datetime

    @field_serializer("dt")
    def _dt(self, value: datetime.datetime) -> str:
        return "custom:" + value.strftime("%Y")


with warnings.catch_warnings():  # json_encoders is deprecated, but FastAPI honours it
    warnings.simplefilter("ignore", DeprecationWarning)

    class WithEncoders(BaseModel):
        model_config = ConfigDict(json_encoders={datetime.datetime: lambda v: "enc"})
        dt: datetime.datetime


@dataclasses.dataclass
class DC:
    a: int
    b: str | None = None
    items: list[Any] = dataclasses.field(default_factory=list)


class Plain:
    def __init__(self) -> None:
        self.x = 1
        self.y = None
        self._sa_instance_state = "hidden"


class Pairs:
    def __iter__(self):
        return iter([("k", 1), ("_sa", 2)])


class Slotted:
    __slots__ = ("a",)


class MyStr(str):
    pass


def _gen():
    yield 1
    yield "two"


now = datetime.datetime(2021, 3, 4, 5, 6, 7, 890, tzinfo=datetime.timezone.utc)


CASES: list[tuple[str, Any]] = [
    ("str", lambda e: e("hello")),
    ("int", lambda e: e(3)),
    ("bool", lambda e: e(True)),
    ("float", lambda e: e(1.25)),
    ("nan", lambda e: repr(e(float("nan")))),
    ("none", lambda e: e(None)),
    ("str_subclass", lambda e: [type(e(MyStr("x"))).__name__, e(MyStr("x"))]),
    ("dict", lambda e: e({"a": 1, "b": [1, 2, {"c": None}], "d": {"e": "f"}})),
    (
        "dict_exclude_none",
        lambda e: e({"a": None, "b": {"c": None, "d": 1}, "l": [None]}, exclude_none=True),
    ),
    ("dict_sa", lambda e: e({"_sa_x": 1, "_sax": 2, "ok": {"_sa": 3}})),
    ("dict_sa_unsafe", lambda e: e({"_sa_x": 1}, sqlalchemy_safe=False)),
    ("dict_include", lambda e: e({"a": 1, "b": 2, "c": {"a": 5}}, include={"a", "c"})),
    ("dict_include_list", lambda e: e({"a": 1, "b": 2}, include=["b"])),
    ("dict_exclude", lambda e: e({"a": 1, "b": 2}, exclude={"a"})),
    ("dict_exclude_dict", lambda e: e({"a": 1, "b": 2}, exclude={"b": ...})),
    (
        "dict_keys",
        lambda e: e({1: "i", Color.red: "enum", uuid.UUID(int=1): "u", None: "n", 2.5: "f"}),
    ),
    ("dict_date_key", lambda e: e({datetime.date(2020, 1, 1): 1})),
    ("dict_strenum_sa_key", lambda e: e({Flag.sa: 1, Flag.on: 2})),
    ("ordered_dict", lambda e: e(OrderedDict([("z", 1), ("a", Decimal("1.5"))]))),
    ("defaultdict", lambda e: e(defaultdict(list, {"a": [1]}))),
    ("list_mixed", lambda e: e([1, "a", None, True, 2.5, [Decimal("3")], {"x": now}])),
    ("list_include", lambda e: e([{"a": 1, "b": 2}], include={"a"})),
    ("tuple", lambda e: e((1, (2, 3)))),
    ("set", lambda e: e({3})),
    ("frozenset", lambda e: e(frozenset({1}))),
    ("deque", lambda e: e(deque([1, 2]))),
    ("generator", lambda e: e(_gen())),
    ("datetime", lambda e: e(now)),
    ("naive_datetime", lambda e: e(datetime.datetime(2020, 1, 1, 0, 0))),
    ("date", lambda e: e(datetime.date(2020, 2, 29))),
    ("time", lambda e: e(datetime.time(1, 2, 3, 4))),
    ("timedelta", lambda e: e(datetime.timedelta(days=1, seconds=1, microseconds=5))),
    ("decimal_int", lambda e: [e(Decimal("10")), type(e(Decimal("10"))).__name__]),
    ("decimal_exp", lambda e: e(Decimal("1E+2"))),
    ("decimal_frac", lambda e: e(Decimal("1.10"))),
    ("decimal_nan", lambda e: repr(e(Decimal("NaN")))),
    ("uuid", lambda e: e(uuid.UUID("12345678-1234-5678-1234-567812345678"))),
    ("bytes", lambda e: e(b"abc")),
    ("bytes_bad", lambda e: e(b"\xff")),
    ("enum", lambda e: [e(Color.red), e(Color.one), e(Flag.on)]),
    ("purepath", lambda e: [e(PurePosixPath("/a/b")), e(Path("x/y")), e(PureWindowsPath("c:/x"))]),
    (
        "ip",
        lambda e: [
            e(IPv4Address("1.2.3.4")),
            e(IPv6Address("::1")),
            e(IPv4Network("10.0.0.0/8")),
            e(IPv6Network("::/0")),
            e(IPv4Interface("10.0.0.1/8")),
            e(IPv6Interface("::1/128")),
        ],
    ),
    ("pattern", lambda e: e(re.compile(r"^a+$"))),
    ("secret", lambda e: [e(SecretStr("x")), e(SecretBytes(b"y"))]),
    ("name_email", lambda e: e(NameEmail("John", "j@example.com"))),
    (
        "url",
        lambda e: [
            e(Url("http://example.com/a b")),
            e(AnyUrl("https://x.org")),
            e(HttpUrl("http://h.com")),
        ],
    ),
    ("undefined", lambda e: e(PydanticUndefined)),
    ("model", lambda e: e(Item(Title="t", sub=Sub(name="s"), extra={"k": now, "_sa": 1}))),
    ("model_by_name", lambda e: e(Item(Title="t"), by_alias=False)),
    ("model_exclude_unset", lambda e: e(Item(Title="t", price=2), exclude_unset=True)),
    (
        "model_exclude_defaults",
        lambda e: e(Item(Title="t", price=1.5, tags=["a"]), exclude_defaults=True),
    ),
    ("model_exclude_none", lambda e: e(Item(Title="t", sub=Sub(name="s")), exclude_none=True)),
    ("model_include", lambda e: e(Item(Title="t"), include={"title", "price"})),
    ("model_exclude", lambda e: e(Item(Title="t"), exclude={"secret", "extra", "sub"})),
    (
        "model_nested_exclude",
        lambda e: e(Item(Title="t", sub=Sub(name="s")), exclude={"sub": {"when"}}),
    ),
    ("model_serializer", lambda e: e(Serialized(dt=now))),
    ("model_json_encoders", lambda e: e(WithEncoders(dt=now))),
    (
        "model_custom_encoder_ignored",
        lambda e: e(Sub(name="s"), custom_encoder={datetime.date: lambda d: "X"}),
    ),
    ("model_in_list", lambda e: e([Sub(name="a"), {"m": Sub(name="b")}])),
    ("dataclass", lambda e: e(DC(1, items=[now, Sub(name="x")]))),
    ("dataclass_exclude_none", lambda e: e(DC(1), exclude_none=True)),
    ("dataclass_include", lambda e: e(DC(1, "b"), include={"a"})),
    (
        "custom_encoder_exact",
        lambda e: e(now, custom_encoder={datetime.datetime: lambda d: "custom"}),
    ),
    ("custom_encoder_subclass", lambda e: e(now, custom_encoder={datetime.date: lambda d: "sub"})),
    (
        "custom_encoder_str",
        lambda e: e({"a": "x", "b": [1]}, custom_encoder={str: lambda s: s.upper()}),
    ),
    (
        "custom_encoder_nested",
        lambda e: e({"d": {"t": now}}, custom_encoder={datetime.datetime: lambda d: 1}),
    ),
    ("plain_object", lambda e: e(Plain())),
    ("plain_object_unsafe", lambda e: e(Plain(), sqlalchemy_safe=False)),
    ("iterable_pairs", lambda e: e(Pairs())),
    ("unencodable", lambda e: e(Slotted())),
    ("unencodable_object", lambda e: e(object())),
    ("dataclass_class", lambda e: e(DC)),
    ("bool_key", lambda e: e({True: 1, "x": {False: None}})),
    ("nested_tuple_in_dict", lambda e: e({"t": (1, {"s": {2}})})),
]


def run(encoder: Any) -> dict[str, str]:
    """Encode every case; results and exceptions are compared as their repr."""
    results: dict[str, str] = {}
    for name, call in CASES:
        try:
            value = call(encoder)
        except Exception as exc:
            results[name] = f"raises {type(exc).__name__}"
        else:
            results[name] = repr(value)
    return results


if __name__ == "__main__":
    import pprint

    from fastapi.encoders import jsonable_encoder

    pprint.pprint(run(jsonable_encoder), width=100)
