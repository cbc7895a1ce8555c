"""Every section and value of the config is checked when it loads, and the error names the file and
the key (issue #15, item 5): through the library and through any command of the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import ConfigError, load_config
from monitor.ingest import load_checked_config
from tests.conftest import config_file


def source(name: str, **settings: object) -> Callable[[dict], None]:
    return lambda data: data.setdefault("sources", {}).setdefault(name, {}).update(settings)


def analysis(**settings: object) -> Callable[[dict], None]:
    return lambda data: data.setdefault("analysis", {}).update(settings)


BAD_VALUES = [
    # (edit, the key the message names, a word of the reason)
    (lambda data: data.setdefault("sources", {}).update(hackernew={"enabled": True}), "sources.hackernew",
     "unknown source"),
    (source("hackernews", interval_minutes=-5), "sources.hackernews.interval_minutes", "greater than 0"),
    (source("hackernews", intervall_minutes=5), "sources.hackernews.intervall_minutes", "not permitted"),
    (source("hackernews", max_pages=0), "sources.hackernews.max_pages", "greater than or equal to 1"),
    (analysis(languages=["klingon"]), "analysis.languages", "ISO 639-1"),
    (analysis(languages=["en", "xx"]), "analysis.languages", "'xx'"),
    (analysis(languages=[]), "analysis.languages", "at least 1"),
    (analysis(workers=-1), "analysis.workers", "greater than or equal to 0"),
    (analysis(long_text_chars=0), "analysis.long_text_chars", "greater than or equal to 1"),
    (analysis(sentiment={"positive": -0.5, "negative": 0.5}), "analysis.sentiment", "must not be above"),
    (analysis(stance={"positive": 2.0, "negative": -0.1}), "analysis.stance.positive", "less than or equal to 1"),
    (analysis(analyzer="bert"), "analysis.analyzer", "'learned' or 'vader'"),
    (lambda data: data.update(distributed={"scheduler": "localhost:8786"}), "distributed.scheduler", "pattern"),
    (lambda data: data.update(distributed={"scheduler": "local:0"}), "distributed.scheduler", "pattern"),
    (lambda data: data.update(daemon={"inbox_interval_seconds": 0}), "daemon.inbox_interval_seconds",
     "greater than 0"),
    (lambda data: data.update(contact=""), "contact", "at least 3"),
]


@pytest.mark.parametrize(("edit", "key", "reason"), BAD_VALUES, ids=[key for _, key, _ in BAD_VALUES])
def test_a_bad_value_is_an_error_naming_the_key(tmp_path: Path, edit: Callable[[dict], None], key: str,
                                                reason: str) -> None:
    path = config_file(tmp_path / "bad.toml", edit)
    with pytest.raises(ConfigError) as caught:
        load_checked_config(path)
    message = str(caught.value)
    assert str(path) in message and f"{key}:" in message and reason in message, message


def test_an_unknown_archive_format_is_an_error_at_start(tmp_path: Path) -> None:
    path = config_file(tmp_path / "bad.toml", lambda data: data.update(archives=[{"path": "x", "format": "jsnol"}]))
    result = CliRunner().invoke(main, ["--config", str(path), "--data-dir", str(tmp_path / "d"), "sources"])
    assert result.exit_code == 1
    assert "archives[0].format: unknown format 'jsnol'" in result.output and "jsonl" in result.output


def test_languages_are_normalised_iso_codes(tmp_path: Path) -> None:
    path = config_file(tmp_path / "de.toml", analysis(languages=["EN", " de"]))
    assert load_config(path).analysis.languages == ["en", "de"]


def test_any_command_says_the_config_is_bad_first(tmp_path: Path) -> None:
    """Even a command that reads only the database (summary, sql) checks the config before anything."""
    path = config_file(tmp_path / "bad.toml", analysis(languages=["klingon"]))
    for command in (["summary"], ["sql", "SELECT 1"], ["status"]):
        result = CliRunner().invoke(main, ["--config", str(path), "--data-dir", str(tmp_path / "none"), *command])
        assert result.exit_code == 1, result.output
        assert "analysis.languages" in result.output and "database" not in result.output
        assert "Traceback" not in result.output
    # Help still shows with a broken config.
    assert CliRunner().invoke(main, ["--config", str(path), "summary", "--help"]).exit_code == 0


def test_score_refuses_an_unknown_language(cli) -> None:
    result = cli("score", "--lang", "klingon", "--text", "Elon Musk")
    assert result.exit_code == 2 and "'klingon' is not an ISO 639-1 language code" in result.output
    assert cli("score", "--lang", "en", "--text", "Elon Musk").exit_code == 0
