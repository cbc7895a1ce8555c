"""A bad regular expression in a target's exclude or stance cues is a config error at load that names
the file, the target and the key (issue #15 item 4), not a traceback when posts are scored."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config, load_targets
from tests.conftest import config_file


def _target(data: dict, target_id: str) -> dict:
    return next(t for t in data["targets"] if t["id"] == target_id)


def _load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return str(err.value)


def test_bad_exclude_names_file_target_and_key(tmp_path: Path) -> None:
    path = config_file(tmp_path / "bad.toml", lambda d: _target(d, "son")["exclude"].append("(?i)(my|his son"))
    message = _load_error(path)
    assert str(path) in message
    assert "targets[3] (id='son').exclude:" in message
    assert "exclude[5] '(?i)(my|his son' is not a valid regular expression: missing )" in message
    assert "Traceback" not in message


@pytest.mark.parametrize("key", ["favor", "against"])
def test_bad_stance_cue_names_file_target_and_key(tmp_path: Path, key: str) -> None:
    path = config_file(tmp_path / "bad.toml", lambda d: _target(d, "stargate")["stance"][key].insert(0, "[unclosed"))
    message = _load_error(path)
    assert str(path) in message
    assert f"targets[0] (id='stargate').stance: Value error, stance.{key}[0] '[unclosed' is not a valid regular " \
           "expression: unterminated character set" in message


def test_every_bad_pattern_is_reported_at_once(tmp_path: Path) -> None:
    def edit(data: dict) -> None:
        _target(data, "musk")["exclude"] = ["*musk"]
        _target(data, "trump").setdefault("stance", {})["against"] = ["ok", "(?i"]

    message = _load_error(config_file(tmp_path / "bad.toml", edit))
    assert "targets[1] (id='musk').exclude: Value error, exclude[0] '*musk'" in message
    assert "(id='trump').stance: Value error, stance.against[1] '(?i'" in message


def test_targets_files_are_checked_too(tmp_path: Path) -> None:
    path = tmp_path / "topics.toml"
    path.write_text('[[targets]]\nid = "climate"\nname = "Climate"\nkind = "topic"\naliases = ["climate"]\n'
                    '[targets.stance]\nfavor = ["(unclosed"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_targets(path)
    assert str(path) in str(err.value)
    assert "targets[0] (id='climate').stance: Value error, stance.favor[0] '(unclosed'" in str(err.value)


def test_the_bundled_and_example_patterns_are_valid() -> None:
    root = Path(__file__).resolve().parents[1] / "config"
    assert load_config(root / "monitor.toml").targets
    for example in sorted((root / "examples").glob("*.toml")):
        assert load_targets(example), example
