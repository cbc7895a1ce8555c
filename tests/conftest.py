"""Shared test fixtures: the bundled config, a data directory in tmp_path, a CLI runner."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.config import Config, load_config

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EVAL_DIR = ROOT.parent / "shared" / "eval"
CONFIG_PATH = ROOT / "config" / "monitor.toml"


def pytest_configure(config: pytest.Config) -> None:
    """One garbage collection at the end of a test process, not pytest's five, before it looks for
    exceptions raised in __del__ (unraisable exceptions, still reported): with the learned model, Arrow
    and DuckDB loaded, each took about a second, at the end of every worker."""
    try:
        from _pytest.unraisableexception import gc_collect_iterations_key
    except ImportError:  # another pytest: its own number of collections
        return
    config.stash[gc_collect_iterations_key] = 1


# The longest files (10-26 s each), handed out first: with --dist loadfile in collection order, one of
# them last kept a worker busy after the others had finished.
LONG_FILES = ("test_daemon.py", "test_summary_rollups.py", "test_cli.py", "test_serve.py", "test_compiled.py",
              "test_import_ranges.py", "test_distributed.py", "test_report.py", "test_store_writer.py",
              "test_interrupt.py", "test_words.py", "test_training_data.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # stable: the rest keep their order


@pytest.fixture(scope="session", autouse=True)
def _fresh_database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A new database file, as Store.ensure makes it, made once per test process and copied where a
    test's store is about to create its file: creating one runs every migration (~0.14 s, and some 450
    tests create one: a fifth of the suite's time). Migrations still run on the copy (finding nothing
    to do), and on old files in the migration tests."""
    from monitor.store import db as store_db

    template_dir = tmp_path_factory.mktemp("template")
    template_store = store_db.Store(template_dir)
    template_store.ensure()
    template_store.close()
    template = template_dir / store_db.DB_NAME
    original = store_db.Store.ensure

    def ensure(self: store_db.Store) -> None:
        if not self._ready and not self.path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, self.path)
        original(self)

    store_db.Store.ensure = ensure  # type: ignore[method-assign]
    yield
    store_db.Store.ensure = original  # type: ignore[method-assign]


# Most tests check the exact VADER path (numbers, rule stance), which stays as the fast analyzer
# and the baseline; tests of the learned analyzer (the default) ask for it by name.


@pytest.fixture(scope="session")
def config() -> Config:
    cfg = load_config(CONFIG_PATH)
    cfg.analysis.analyzer = "vader"
    return cfg


@pytest.fixture(scope="session")
def vader_config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled config with ``analysis.analyzer = "vader"``."""
    return config_file(tmp_path_factory.mktemp("config") / "monitor.toml",
                       lambda data: data.setdefault("analysis", {}).update(analyzer="vader"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def cli(data_dir: Path, vader_config_path: Path) -> Callable[..., Result]:
    """Run `monitor` in-process with the bundled config (VADER analyzer unless ``config`` says
    otherwise) and a temp data dir."""
    from monitor.cli import main

    def run(*args: str, input: str | None = None, config: Path | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(main, ["--config", str(config or vader_config_path), "--data-dir", str(data_dir),
                                    *args], input=input, catch_exceptions=False)

    return run


def config_file(path: Path, edit: Callable[[dict], None]) -> Path:
    """The bundled config, changed by ``edit`` (on the parsed TOML), written to ``path``."""
    import tomllib

    import tomli_w

    data = tomllib.loads(CONFIG_PATH.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def run_source(name: str, cfg: Config, store, sleeps: list[float] | None = None, timeout: float = 5.0):
    """Run one collector once, as the daemon would, with recorded (not real) back-off sleeps."""
    from monitor.http import HttpClient
    from monitor.ingest.collect import run_collector
    from monitor.ingest.pool import AnalysisPool
    from monitor.sources.api import load_sources

    sleeps = [] if sleeps is None else sleeps
    http = HttpClient(cfg.contact, timeout=timeout, backoff=0.01, sleep=sleeps.append)
    try:
        return run_collector(load_sources().collectors[name], cfg, store, AnalysisPool(cfg, workers=1), http=http)
    finally:
        http.close()


def stored(store, sql: str = "SELECT count(*) FROM posts") -> list[tuple]:
    with store.read() as con:
        return con.execute(sql).fetchall()


def assert_secrets_not_stored(store, *secrets: str) -> None:
    """No stored row, in any table, contains a credential (tokens come from the environment only)."""
    with store.read() as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_type = 'BASE TABLE'").fetchall()]
        assert {"runs", "posts", "source_state"} <= set(tables)
        for table in tables:
            for row in con.execute(f"SELECT * FROM {table}").fetchall():
                assert not any(s in repr(row) for s in secrets), f"credential found in table {table}"


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def post(i: int, text: str, **extra: object) -> dict:
    return {"platform": "x", "id": str(i), "text": text, "created_at": f"2025-01-{10 + i % 20:02d}T12:00:00Z",
            "author": f"user{i % 4}", **extra}


# Twelve labelled posts about Sam Altman: the smallest file `monitor stance train` accepts, in the tests
# of the head and of the target's own encoder.
ALTMAN_FAVOR = ["Sam Altman is a visionary leader", "Grateful for Sam Altman, he gets it right",
                "Altman keeps delivering, impressive work", "Sam Altman deserves all the credit",
                "So glad Altman is running OpenAI", "Altman made the right call again"]
ALTMAN_AGAINST = ["Sam Altman is a grifter", "Altman cannot be trusted with anything", "Sam Altman lied to his board",
                  "Altman is hyping vaporware again", "Fire Sam Altman already",
                  "Altman is the worst thing to happen to AI"]


def altman_labels_csv(folder: Path) -> Path:
    """``folder``/altman.csv with ALTMAN_FAVOR and ALTMAN_AGAINST as text,label rows."""
    path = folder / "altman.csv"
    path.write_text("text,label\n" + "".join(f'"{t}",favor\n' for t in ALTMAN_FAVOR)
                    + "".join(f'"{t}",against\n' for t in ALTMAN_AGAINST), encoding="utf-8")
    return path
