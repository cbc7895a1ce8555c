"""News items report; they take no side: their stance is stored as none (analysis.reporting_platforms)."""

from __future__ import annotations

from pathlib import Path

from monitor.config import Config
from monitor.ingest.imports import Importer
from monitor.store import Store
from tests.conftest import ROOT, stored

GUARDIAN = ROOT / "monitor" / "sample" / "guardian_us_2018-01-31.rss.xml"
STANCES = ("SELECT s.stance, s.stance_scorer, count(*) FROM target_scores s JOIN posts p USING (post_key) "
           "WHERE p.platform = 'news' GROUP BY ALL ORDER BY ALL")


def _import(config: Config, folder: Path) -> list[tuple]:
    store = Store(folder)
    Importer(config, store).import_paths([GUARDIAN])
    return stored(store, STANCES)


def test_news_items_take_no_side(config: Config, tmp_path: Path) -> None:
    reporting = _import(config, tmp_path / "a")
    assert reporting and {(stance, scorer) for stance, scorer, _ in reporting} == {("none", "reporting")}
    scored = config.model_copy(deep=True)
    scored.analysis.reporting_platforms = []
    sides = {stance for stance, _, _ in _import(scored, tmp_path / "b")}
    assert sides & {"favor", "against"}  # without the setting, the analyzer's own calls are stored
    with Store(tmp_path / "a").read() as con:  # the analyzer's score is kept beside the none
        assert con.execute("SELECT count(*) FROM target_scores WHERE stance_score <> 0").fetchone()[0] > 0


def test_summary_says_news_items_take_no_side(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("import", str(GUARDIAN)).exit_code == 0
    printed = cli("summary").output
    assert "news items: they report, they take no side" in printed
    assert "trained on your labels" not in printed  # "reporting" is not a model of the user's
