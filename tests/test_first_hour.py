"""The first hour of a new user (issue #15), scripted: init outside the clone, a wrong-encoding import
and its retry, a bad config, a read-only data folder, an export to CSV, a summary between dates.
Each step asserts what the user reads and the exit status."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.cli import main
from monitor.config import PACKAGED_CONFIG, PLACEHOLDER_CONTACT, is_placeholder_contact, load_config
from tests.conftest import CONFIG_PATH

CP1252_CSV = ("id,text,created_at\n"
              "1,Elon Musk est un g\xe9nie \u201cvraiment\u201d,2016-01-05T10:00:00Z\n"
              "2,Sam Altman caf\xe9 na\xefve,2016-01-20T10:00:00Z\n"
              "3,Satya Nadella r\xe9sum\xe9 in 2016,2016-03-01T10:00:00Z\n")


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder outside the clone as the working directory, with no user config and no
    MONITOR_CONFIG / MONITOR_DATA_DIR from the environment."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    monkeypatch.delenv("MONITOR_DATA_DIR", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def monitor(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def use_vader(config: Path) -> None:
    """The exact, fast analyzer: the walk-through checks the tool's behaviour, not the model."""
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[analysis]\n", '[analysis]\nanalyzer = "vader"\n', 1), encoding="utf-8")


def test_the_first_hour(outside: Path) -> None:
    # 1. init, outside the clone: asks for the contact, writes a commented config the tool then finds.
    result = monitor("init", input="not a contact\nme@example.org\n")  # asked again until it is one
    assert result.exit_code == 0, result.output
    config = outside / "config" / "monitor.toml"
    assert "User-Agent" in result.output and str(config) in result.output and "neither an e-mail" in result.output
    assert load_config().path == Path("config/monitor.toml") and load_config().contact == "me@example.org"
    assert "# " in config.read_text(encoding="utf-8")  # commented, to edit
    use_vader(config)

    # 2. a cp1252 file: no post can be read, exit 1, and the message names the fix ...
    Path("cp.csv").write_bytes(CP1252_CSV.encode("cp1252"))
    first = monitor("import", "cp.csv")
    assert first.exit_code == 1
    assert "--encoding cp1252" in first.output
    # ... and the fix it names works (the failed read did not mark the file as done).
    retry = monitor("import", "--encoding", "cp1252", "cp.csv")
    assert retry.exit_code == 0, retry.output
    assert "3 new" in retry.output and "skipped" not in retry.output

    # 3. a bad config: one line per bad key, naming it; exit 1, no traceback.
    bad = Path("bad.toml")
    bad.write_text(config.read_text(encoding="utf-8").replace('languages = ["en"]', 'languages = ["klingon"]'),
                   encoding="utf-8")
    broken = monitor("--config", str(bad), "summary")
    assert broken.exit_code == 1
    assert "bad.toml" in broken.output and "analysis.languages" in broken.output and "klingon" in broken.output
    assert "Traceback" not in broken.output
    missing = monitor("--config", "nosuch.toml", "summary")
    assert missing.exit_code == 1 and "config file nosuch.toml" in missing.output
    assert "database" not in missing.output

    # 4. a read-only data folder: one line saying what happened and what to do; the traceback only with --debug.
    with pytest.MonkeyPatch.context() as patch:
        read_only_store(patch)
        ro = monitor("--data-dir", "ro-data", "import", "--encoding", "cp1252", "cp.csv")
        assert ro.exit_code == 1
        assert_one_line_error(ro, "read-only", "--data-dir")
        with pytest.raises(Exception, match="Read-only file system"):
            CliRunner().invoke(main, ["--debug", "--data-dir", "ro-data", "import", "--encoding", "cp1252", "cp.csv"],
                               catch_exceptions=False)

    # 5. export to CSV: CSV because of the name; times in UTC with their zone.
    exported = monitor("export", "-o", "posts.csv")
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(Path("posts.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 3 and rows[0]["created_at"] == "2016-01-05T10:00:00Z"
    assert rows[0]["text"] == "Elon Musk est un génie “vraiment”"
    assert all(r["collected_at"].endswith("Z") for r in rows)

    # 6. a summary between dates, of a 2016 archive.
    january = monitor("summary", "--since", "2016-01-01", "--until", "2016-02-01", "--json")
    assert january.exit_code == 0, january.output
    counts = {t["target_id"]: t for t in json.loads(january.output)["targets"]}
    assert set(counts) == {"musk", "altman"}


def read_only_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """The data folder on a read-only file system, as DuckDB and the OS report it. (The tests run as
    root, for whom chmod does not make a folder read-only; test_read_only_data_dir_for_real does it
    for a normal user.)"""
    from monitor.store import daemon_state, db

    def attach_fails(self: db.Store, *_args: object, **_kwargs: object) -> None:
        raise db.StoreError(f'cannot open {self.path}: IO Error: Cannot open file "{self.path}": Read-only file system')

    def open_fails(path: object, *_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(db.Store, "_connect", attach_fails)
    monkeypatch.setattr(daemon_state, "open", open_fails, raising=False)


def assert_one_line_error(result: Result, *needles: str) -> None:
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle.lower() in errors[0].lower(), errors[0]


def test_run_once_on_a_read_only_data_dir(outside: Path, vader_config_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    read_only_store(monkeypatch)
    result = monitor("--config", str(vader_config_path), "--data-dir", "ro-data", "run", "--once")
    assert result.exit_code == 1
    assert_one_line_error(result, "daemon.lock", "read-only", "--data-dir")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_data_dir_for_real(outside: Path, vader_config_path: Path) -> None:
    data = outside / "ro-data"
    data.mkdir()
    data.chmod(0o555)
    Path("p.jsonl").write_text('{"id": "1", "text": "Elon Musk", "created_at": "2016-01-01T00:00:00Z"}\n')
    result = monitor("--config", str(vader_config_path), "--data-dir", str(data), "import", "p.jsonl")
    assert result.exit_code == 1
    assert_one_line_error(result, "--data-dir")


def test_a_full_disk_is_one_line(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import post, write_jsonl

    cli("import", str(write_jsonl(tmp_path / "a.jsonl", [post(1, "Elon Musk")])))

    def disk_full(*_args: object, **_kwargs: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "out.csv"))

    monkeypatch.setattr("monitor.export.export_posts", disk_full)
    result = CliRunner().invoke(main, ["--config", str(CONFIG_PATH), "--data-dir", str(tmp_path / "data"),
                                       "export", "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 1
    assert_one_line_error(result, "out.csv: no space left on device", "free some space")


def test_init_writes_the_contact_and_refuses_to_overwrite(outside: Path) -> None:
    assert monitor("init", "site", "--contact", "https://example.org/me").exit_code == 0
    written = load_config(outside / "site" / "config" / "monitor.toml")
    assert written.contact == "https://example.org/me" and not written.archives  # no sample archive to miss
    again = monitor("init", "site", "--contact", "me@example.org")
    assert again.exit_code == 1 and "already exists" in again.output
    unasked = monitor("init", "other", input="")  # a script: no terminal to ask at
    assert unasked.exit_code == 2 and "pass it as --contact you@example.org" in unasked.output
    bad = monitor("init", "other", "--contact", "bob")
    assert bad.exit_code == 2 and "neither an e-mail address nor an http(s) URL" in bad.output
    assert not (outside / "other").exists()


def test_alerts_without_a_config_of_ones_own_say_to_write_one(outside: Path) -> None:
    """The package's default config is no file to edit (an upgrade replaces it): the message said to add
    [[alerts.sinks]] to it, in site-packages."""
    result = monitor("alerts", "test")
    assert result.exit_code == 1 and "monitor init" in result.output and str(PACKAGED_CONFIG) not in result.output
    monitor("init", "--contact", "me@example.org")
    result = monitor("alerts", "test")
    assert result.exit_code == 1 and "add [[alerts.sinks]] to config/monitor.toml" in result.output


def test_the_packaged_config_is_the_repositorys() -> None:
    assert PACKAGED_CONFIG.read_bytes() == CONFIG_PATH.read_bytes()
    assert is_placeholder_contact(load_config(PACKAGED_CONFIG).contact)
    assert load_config(PACKAGED_CONFIG).contact == PLACEHOLDER_CONTACT


def test_config_is_looked_for_in_the_usual_places(outside: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_config().path == PACKAGED_CONFIG  # nothing else: the shipped default
    user = outside.parent / "home" / ".config" / "discourse-monitor" / "monitor.toml"
    user.parent.mkdir(parents=True)
    user.write_text(CONFIG_PATH.read_text(encoding="utf-8").replace("stance_threshold", "stance_threshold"))
    assert load_config().path == user
    monitor("init", "--contact", "me@example.org")
    assert load_config().path == Path("config/monitor.toml")
    monkeypatch.setenv("MONITOR_CONFIG", str(user))
    assert load_config().path == user
    assert load_config(CONFIG_PATH).path == CONFIG_PATH  # --config first
    monkeypatch.setenv("MONITOR_CONFIG", "gone.toml")
    result = monitor("sources")
    assert result.exit_code == 1 and "gone.toml (from MONITOR_CONFIG) not found" in result.output


def test_collecting_with_the_placeholder_contact_warns(outside: Path, tmp_path: Path) -> None:
    from tests.conftest import config_file

    def no_sources(data: dict) -> None:
        from monitor.sources.api import load_sources

        data["sources"] = {name: {"enabled": False} for name in load_sources().collectors}

    placeholder = config_file(tmp_path / "placeholder.toml", no_sources)
    warned = monitor("--config", str(placeholder), "--data-dir", "d", "collect")
    assert warned.exit_code == 0, warned.output
    assert "contact" in warned.output and "placeholder" in warned.output

    def own_contact(data: dict) -> None:
        no_sources(data)
        data["contact"] = "me@example.org"

    mine = config_file(tmp_path / "mine.toml", own_contact)
    quiet = monitor("--config", str(mine), "--data-dir", "d", "collect")
    assert quiet.exit_code == 0 and "placeholder" not in quiet.output


def test_an_empty_folder_is_an_error(cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = cli("import", str(tmp_path / "empty"))
    assert result.exit_code == 1
    assert "empty: no files to import in this folder" in result.output


def test_an_unknown_encoding_is_an_error(cli, tmp_path: Path) -> None:
    Path(tmp_path / "a.csv").write_text("id,text,created_at\n1,Elon Musk,2016-01-01T00:00:00Z\n")
    result = cli("import", "--encoding", "nosuchenc", str(tmp_path / "a.csv"))
    assert result.exit_code == 2
    assert "unknown encoding 'nosuchenc'" in result.output and "cp1252" in result.output
    assert "LookupError" not in result.output


def test_collect_fails_when_every_source_failed(cli, tmp_path: Path) -> None:
    from tests.conftest import config_file

    def unreachable(data: dict) -> None:
        data.setdefault("analysis", {}).update(analyzer="vader")
        data["sources"] = {"hackernews": {"enabled": True, "base_url": "http://127.0.0.1:9", "max_pages": 1,
                                          "queries": ["Altman"]}}

    config = config_file(tmp_path / "offline.toml", unreachable)
    result = cli("collect", "hackernews", "--json", config=config)
    assert result.exit_code == 1
    assert "every source failed (hackernews)" in result.output
    assert json.loads(result.stdout)["hackernews"][0]["coverage"] == "failed"  # the record is still printed


def test_what_duckdb_says_about_a_full_disk_is_its_cause() -> None:
    """Seen on a 2 MB tmpfs: DuckDB reports the full disk inside an 'invalidated database' message."""
    import duckdb

    from monitor.cli import describe_failure

    exc = duckdb.IOException('IO Error: Database "monitor" has been invalidated because checkpointing failed. Detach '
                             'and reattach it before using it again. Original error: Could not write file '
                             '"d/monitor.duckdb": No space left on device')
    message = describe_failure(exc)
    assert message.startswith('Could not write file "d/monitor.duckdb": No space left on device. What to do: free')
    assert "\n" not in message


def test_logged_exceptions_are_one_line_without_debug() -> None:
    import logging

    from monitor.cli import _BriefFormatter

    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError:
        record = logging.getLogger("monitor.store.db").makeRecord(
            "monitor.store.db", logging.ERROR, __file__, 1, "detaching %s", ("x.duckdb",), sys.exc_info())
    line = _BriefFormatter("%(levelname)s %(message)s").format(record)
    assert line == "ERROR detaching x.duckdb: [Errno 28] No space left on device"


def test_collecting_with_no_config_says_the_default_is_used(outside: Path) -> None:
    result = monitor("--data-dir", "d", "collect", "nosuch")  # stops at the unknown source, after the warning
    assert result.exit_code == 2
    assert "no config found" in result.output and "monitor init" in result.output
