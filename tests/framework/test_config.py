"""``aster.config``: settings from the environment and ``.env`` files, Starlette's ``Config``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from aster.config import (
    CommaSeparatedStrings,
    Config,
    Environ,
    EnvironError,
    Secret,
    environ,
)
from aster.datastructures import URL


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    path.write_text(
        "# not a setting\n"
        "DATABASE_URL=postgres://user:pass@localhost/db\n"
        "  SPACED  =  value with spaces  \n"
        "SECRET_KEY=12345\n"
        "DEBUG=false\n"
        "SINGLE='say \"hi\"'\n"
        'DOUBLE="it\'s"\n'
        "MIXED=\"secret'\n"
        'QUOTE="\n'
        "EQUALS=a=b=c\n"
        "no equals sign here\n"
        "\n"
    )
    return path


def test_values_from_the_file(env_file: Path) -> None:
    config = Config(env_file, environ={})
    assert config("DATABASE_URL", cast=URL).password == "pass"
    assert config("SPACED") == "value with spaces"
    assert config("SINGLE") == 'say "hi"'
    assert config("DOUBLE") == "it's"
    assert config("MIXED") == "\"secret'"  # quotes that do not match are kept
    assert config("QUOTE") == '"'
    assert config("EQUALS") == "a=b=c"
    assert config.file_values.keys() == {
        "DATABASE_URL",
        "SPACED",
        "SECRET_KEY",
        "DEBUG",
        "SINGLE",
        "DOUBLE",
        "MIXED",
        "QUOTE",
        "EQUALS",
    }
    assert Config(str(env_file), environ={})("SECRET_KEY") == "12345"


def test_the_environment_wins_over_the_file(env_file: Path) -> None:
    config = Config(env_file, environ={"DEBUG": "TRUE"})
    assert config("DEBUG", cast=bool) is True


BOOL_STRINGS = [("true", True), ("True", True), ("1", True), ("FALSE", False), ("0", False)]


@pytest.mark.parametrize(("raw", "expected"), BOOL_STRINGS)
def test_bool_strings(raw: str, expected: bool) -> None:
    assert Config(environ={"FLAG": raw})("FLAG", cast=bool) is expected


def test_invalid_values_name_the_key() -> None:
    config = Config(environ={"FLAG": "yes", "PORT": "http"})
    with pytest.raises(ValueError, match="^Config 'FLAG' has value 'yes'. Not a valid bool.$"):
        config("FLAG", cast=bool)
    with pytest.raises(ValueError, match="^Config 'PORT' has value 'http'. Not a valid int.$"):
        config("PORT", cast=int)
    with pytest.raises(ValueError, match="Not a valid int"):
        config("MISSING", cast=int, default="true")


def test_defaults_are_cast_but_none_is_kept() -> None:
    config = Config(environ={})
    assert config("TIMEOUT", cast=int, default="10") == 10
    assert config("TIMEOUT", cast=float, default=1) == 1.0
    assert config("RETRIES", cast=bool, default=True) is True
    assert config("HOST", default=None) is None
    assert config("TOKEN", cast=Secret, default=None) is None
    assert config("EMPTY", default="") == ""


def test_missing_key_without_default() -> None:
    with pytest.raises(KeyError, match="Config 'MISSING' is missing, and has no default."):
        Config(environ={}).get("MISSING")


def test_secret_and_comma_separated_strings(env_file: Path) -> None:
    config = Config(env_file, environ={"HOSTS": "a.example, 'b,c.example' ,d"})
    secret = config("SECRET_KEY", cast=Secret)
    assert repr(secret) == "Secret('**********')"
    assert str(secret) == "12345"
    assert bool(secret) and not bool(Secret(""))
    hosts = config("HOSTS", cast=CommaSeparatedStrings)
    assert list(hosts) == ["a.example", "b,c.example", "d"]


def test_env_prefix() -> None:
    config = Config(environ={"APP_DEBUG": "1", "DEBUG": "0"}, env_prefix="APP_")
    assert config("DEBUG", cast=bool) is True
    with pytest.raises(KeyError, match="Config 'APP_OTHER' is missing"):
        config("OTHER")


def test_encoding(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes("GREETING=Grüß dich\n".encode("latin-1"))
    assert Config(path, encoding="latin-1", environ={})("GREETING") == "Grüß dich"


def test_missing_env_file_warns(tmp_path: Path) -> None:
    path = tmp_path / "absent.env"
    with pytest.warns(UserWarning, match=f"Config file '{path}' not found."):
        config = Config(path, environ={})
    assert config.file_values == {}


def test_default_config_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASTER_CONFIG_TEST", "123")
    assert Config().get("ASTER_CONFIG_TEST", cast=int) == 123
    assert Config().environ is environ


def test_read_file_is_a_hook(tmp_path: Path) -> None:
    class JsonishConfig(Config):
        def _read_file(self, file_name: str | Path, encoding: str) -> dict[str, str]:
            return {"FROM_HOOK": Path(file_name).name}

    path = tmp_path / "settings.cfg"
    path.write_text("")
    assert JsonishConfig(path, environ={})("FROM_HOOK") == "settings.cfg"


def test_environ_refuses_changes_after_a_read() -> None:
    backing: dict[str, str] = {}
    env = Environ(backing)
    env["TESTING"] = "1"
    env["GONE"] = "x"
    del env["GONE"]
    assert env["TESTING"] == "1"
    assert "GONE" not in env
    with pytest.raises(
        EnvironError,
        match=r"^Attempting to set environ\['TESTING'\], but the value has already been read.$",
    ):
        env["TESTING"] = "0"
    with pytest.raises(EnvironError, match=r"^Attempting to delete environ\['TESTING'\]"):
        del env["TESTING"]
    assert backing == {"TESTING": "1"}
    assert list(env) == ["TESTING"] and len(env) == 1


def test_environ_wraps_os_environ_by_default() -> None:
    env = Environ()
    assert len(env) == len(os.environ)
    assert list(env) == list(os.environ)


def test_cast_may_be_any_callable() -> None:
    def to_list(value: Any) -> list[str]:
        return str(value).split("|")

    assert Config(environ={"PARTS": "a|b"})("PARTS", cast=to_list) == ["a", "b"]
