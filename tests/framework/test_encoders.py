"""``jsonable_encoder`` against FastAPI 0.165's results for the same inputs.

``EXPECTED`` was produced by running ``encoder_cases.py`` under FastAPI 0.165
(``python tests/framework/encoder_cases.py``); results are compared as reprs.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest

from aster.encoders import ENCODERS_BY_TYPE, jsonable_encoder
from aster.exceptions import PydanticV1NotSupportedError

from .encoder_cases import CASES, run

EXPECTED: dict[str, str] = {
    "bool": "True",
    "bool_key": "{True: 1, 'x': {False: None}}",
    "bytes": "'abc'",
    "bytes_bad": "raises UnicodeDecodeError",
    "custom_encoder_exact": "'custom'",
    "custom_encoder_nested": "{'d': {'t': 1}}",
    "custom_encoder_str": "{'A': 'X', 'B': [1]}",
    "custom_encoder_subclass": "'sub'",
    "dataclass": "{'a': 1, 'b': None, 'items': "
    "['2021-03-04T05:06:07.000890+00:00', {'name': 'x', 'when': "
    "'2020-01-02', 'maybe': None}]}",
    "dataclass_class": "raises AssertionError",
    "dataclass_exclude_none": "{'a': 1, 'items': []}",
    "dataclass_include": "{'a': 1}",
    "date": "'2020-02-29'",
    "datetime": "'2021-03-04T05:06:07.000890+00:00'",
    "decimal_exp": "100",
    "decimal_frac": "1.1",
    "decimal_int": "[10, 'int']",
    "decimal_nan": "'nan'",
    "defaultdict": "{'a': [1]}",
    "deque": "[1, 2]",
    "dict": "{'a': 1, 'b': [1, 2, {'c': None}], 'd': {'e': 'f'}}",
    "dict_date_key": "{'2020-01-01': 1}",
    "dict_exclude": "{'b': 2}",
    "dict_exclude_dict": "{'a': 1}",
    "dict_exclude_none": "{'b': {'d': 1}, 'l': [None]}",
    "dict_include": "{'a': 1, 'c': {'a': 5}}",
    "dict_include_list": "{'b': 2}",
    "dict_keys": "{1: 'i', 'red': 'enum', '00000000-0000-0000-0000-000000000001': "
    "'u', None: 'n', 2.5: 'f'}",
    "dict_sa": "{'ok': {}}",
    "dict_sa_unsafe": "{'_sa_x': 1}",
    "dict_strenum_sa_key": "{'on': 2}",
    "enum": "['red', 1, 'on']",
    "float": "1.25",
    "frozenset": "[1]",
    "generator": "[1, 'two']",
    "int": "3",
    "ip": "['1.2.3.4', '::1', '10.0.0.0/8', '::/0', '10.0.0.1/8', '::1/128']",
    "iterable_pairs": "{'k': 1}",
    "list_include": "[{'a': 1}]",
    "list_mixed": "[1, 'a', None, True, 2.5, [3], {'x': '2021-03-04T05:06:07.000890+00:00'}]",
    "model": "{'Title': 't', 'price': 1.5, 'tags': [], 'sub': {'name': 's', "
    "'when': '2020-01-02', 'maybe': None}, 'extra': {'k': "
    "'2021-03-04T05:06:07.000890Z'}, 'secret': '**********', 'color': "
    "'red'}",
    "model_by_name": "{'title': 't', 'price': 1.5, 'tags': [], 'sub': None, "
    "'extra': {}, 'secret': '**********', 'color': 'red'}",
    "model_custom_encoder_ignored": "{'name': 's', 'when': '2020-01-02', 'maybe': None}",
    "model_exclude": "{'Title': 't', 'price': 1.5, 'tags': [], 'color': 'red'}",
    "model_exclude_defaults": "{'Title': 't', 'tags': ['a']}",
    "model_exclude_none": "{'Title': 't', 'price': 1.5, 'tags': [], 'sub': "
    "{'name': 's', 'when': '2020-01-02'}, 'extra': {}, "
    "'secret': '**********', 'color': 'red'}",
    "model_exclude_unset": "{'Title': 't', 'price': 2.0}",
    "model_in_list": "[{'name': 'a', 'when': '2020-01-02', 'maybe': None}, {'m': "
    "{'name': 'b', 'when': '2020-01-02', 'maybe': None}}]",
    "model_include": "{'Title': 't', 'price': 1.5}",
    "model_json_encoders": "{'dt': 'enc'}",
    "model_nested_exclude": "{'Title': 't', 'price': 1.5, 'tags': [], 'sub': "
    "{'name': 's', 'maybe': None}, 'extra': {}, 'secret': "
    "'**********', 'color': 'red'}",
    "model_serializer": "{'dt': 'custom:2021'}",
    "naive_datetime": "'2020-01-01T00:00:00'",
    "name_email": "'John <j@example.com>'",
    "nan": "'nan'",
    "nested_tuple_in_dict": "{'t': [1, {'s': [2]}]}",
    "none": "None",
    "ordered_dict": "{'z': 1, 'a': 1.5}",
    "pattern": "'^a+$'",
    "plain_object": "{'x': 1, 'y': None}",
    "plain_object_unsafe": "{'x': 1, 'y': None, '_sa_instance_state': 'hidden'}",
    "purepath": "['/a/b', 'x/y', 'c:\\\\x']",
    "secret": "['**********', \"b'**********'\"]",
    "set": "[3]",
    "str": "'hello'",
    "str_subclass": "['MyStr', 'x']",
    "time": "'01:02:03.000004'",
    "timedelta": "86401.000005",
    "tuple": "[1, [2, 3]]",
    "undefined": "None",
    "unencodable": "raises ValueError",
    "unencodable_object": "raises ValueError",
    "url": "['http://example.com/a%20b', 'https://x.org/', 'http://h.com/']",
    "uuid": "'12345678-1234-5678-1234-567812345678'",
}


def test_the_table_covers_every_case() -> None:
    assert sorted(EXPECTED) == sorted(name for name, _ in CASES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_matches_fastapi(name: str) -> None:
    results = run(jsonable_encoder)
    assert results[name] == EXPECTED[name]


def test_fast_path_returns_fresh_containers() -> None:
    inner = {"b": [1, 2]}
    data = {"a": inner, "l": [inner]}
    encoded = jsonable_encoder(data)
    assert encoded == data
    assert encoded is not data
    assert encoded["a"] is not inner
    assert encoded["l"] is not data["l"]
    assert encoded["a"]["b"] is not inner["b"]


def test_fast_path_hands_other_values_to_the_general_path() -> None:
    when = datetime.datetime(2020, 1, 2, 3, 4, 5)
    ident = uuid.UUID(int=7)
    data = {"when": when, "items": [ident, {"n": None, "_sa_state": 1}], 1: "int key"}
    assert jsonable_encoder(data) == {
        "when": "2020-01-02T03:04:05",
        "items": [str(ident), {"n": None}],
        1: "int key",
    }
    assert jsonable_encoder(data, exclude_none=True)["items"][1] == {}
    assert jsonable_encoder(data, sqlalchemy_safe=False)["items"][1] == {"n": None, "_sa_state": 1}


def test_custom_encoder_applies_to_native_values_too() -> None:
    assert jsonable_encoder({"a": 1}, custom_encoder={int: lambda v: v * 10}) == {"a": 10}


def test_encoders_by_type_can_be_extended() -> None:
    class Money:
        def __init__(self, cents: int) -> None:
            self.cents = cents

    ENCODERS_BY_TYPE[Money] = lambda m: f"{m.cents / 100:.2f}"
    try:
        assert jsonable_encoder({"price": Money(1234)}) == {"price": "12.34"}
    finally:
        del ENCODERS_BY_TYPE[Money]


def test_unencodable_object_reports_both_attempts() -> None:
    with pytest.raises(ValueError) as info:
        jsonable_encoder(object())
    errors: Any = info.value.args[0]
    assert [type(e) for e in errors] == [TypeError, TypeError]


def test_pydantic_v1_models_are_refused() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from pydantic import v1
        except ImportError:  # pragma: no cover
            pytest.skip("pydantic.v1 is not available")

        class Old(v1.BaseModel):
            x: int = 1

    with pytest.raises(PydanticV1NotSupportedError, match="no longer supported"):
        jsonable_encoder(Old())
