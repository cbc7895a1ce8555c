"""The config: validation errors name the file and the key; targets' own accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config
from tests.conftest import config_file


def _musk(data: dict) -> dict:
    return next(t for t in data["targets"] if t["id"] == "musk")


def test_errors_name_the_file_and_the_key(tmp_path: Path) -> None:
    path = config_file(tmp_path / "bad.toml", lambda d: (_musk(d).update(alias=["Elon"]),
                                                          d["analysis"].update(workers="two")))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert "targets[1] (id='musk').alias: Extra inputs are not permitted" in message
    assert "analysis.workers:" in message


def test_accounts_are_platform_and_handle(tmp_path: Path) -> None:
    path = config_file(tmp_path / "bad.toml", lambda d: _musk(d).update(accounts=["elonmusk"]))
    with pytest.raises(ConfigError, match=r"targets\[1\] \(id='musk'\)\.accounts: .*'elonmusk' is not platform:handle"):
        load_config(path)


def test_own_accounts(tmp_path: Path, config) -> None:
    assert config.target("musk").own_accounts() == ["x:elonmusk"]  # default: the handles, on X
    assert config.target("altman").own_accounts() == ["hackernews:sama", "x:sama"]
    assert config.target("microsoft").own_accounts() == ["x:microsoft"]  # not Nadella's
    changed = load_config(config_file(tmp_path / "c.toml", lambda d: _musk(d).update(accounts=["X:@ElonMusk"])))
    assert changed.target("musk").own_accounts() == ["x:elonmusk"]
    # Accounts are not matching rules: changing them re-reads no archive and re-matches nothing.
    assert changed.rules_version == config.rules_version
