"""The domain check set (tests/domain_check/posts.jsonl) and the tuning set of long posts
(tests/domain_tune/posts.jsonl) stay well-formed: real labels, known targets, no duplicates, and
every labelled target is either found by the bundled config's matcher or flagged as an implicit
mention (named only by a pronoun, a first name, or the thread). The tuning set shares no post with
the check set: choices are made on it, and the check set measures them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitor.analysis.matching import Matcher
from monitor.config import load_config

ROOT = Path(__file__).parents[1]
CHECK_SET = ROOT / "tests" / "domain_check" / "posts.jsonl"
TUNING_SET = ROOT / "tests" / "domain_tune" / "posts.jsonl"
MIN_POSTS = {CHECK_SET: 300, TUNING_SET: 100}
SENTIMENTS = {"negative", "neutral", "positive"}
STANCES = {"against", "none", "favor"}
REQUIRED = {"id", "platform", "source", "text", "sentiment", "stance"}


def read(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module", params=[CHECK_SET, TUNING_SET], ids=["check", "tune"])
def labelled(request: pytest.FixtureRequest) -> tuple[Path, list[dict[str, Any]]]:
    return request.param, read(request.param)


@pytest.fixture(scope="module")
def posts(labelled: tuple[Path, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return labelled[1]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_config(ROOT / "config" / "monitor.toml"))


def test_enough_posts_with_unique_ids(labelled: tuple[Path, list[dict[str, Any]]]) -> None:
    path, posts = labelled
    assert len(posts) >= MIN_POSTS[path]
    ids = [p["id"] for p in posts]
    assert len(ids) == len(set(ids)), "duplicate ids"


def test_fields_and_labels_are_valid(posts: list[dict[str, Any]], matcher: Matcher) -> None:
    for post in posts:
        assert REQUIRED <= post.keys(), post["id"]
        assert isinstance(post["text"], str) and post["text"].strip(), post["id"]
        assert post["source"].strip(), post["id"]
        assert post["sentiment"] in SENTIMENTS, post["id"]
        assert post["stance"], f"{post['id']}: no target labelled"
        for target_id, stance in post["stance"].items():
            assert target_id in matcher.targets, f"{post['id']}: unknown target {target_id}"
            assert stance in STANCES, post["id"]


def test_labelled_targets_are_matched_or_flagged_implicit(posts: list[dict[str, Any]], matcher: Matcher) -> None:
    for post in posts:
        matched = {mention.target_id for mention in matcher.match(post["text"])}
        implicit = set(post.get("implicit", []))
        assert implicit <= post["stance"].keys(), f"{post['id']}: implicit target without a label"
        assert not implicit & matched, f"{post['id']}: flagged implicit but the matcher finds it"
        missing = post["stance"].keys() - matched - implicit
        assert not missing, f"{post['id']}: labelled {missing} but neither matched nor implicit"
        # Every target the matcher finds has a label (none at least): the set covers all mentions.
        assert matched <= post["stance"].keys(), f"{post['id']}: matched {matched - post['stance'].keys()} unlabelled"


def test_every_class_is_present(posts: list[dict[str, Any]]) -> None:
    assert {p["sentiment"] for p in posts} == SENTIMENTS
    assert {s for p in posts for s in p["stance"].values()} == STANCES


def test_the_tuning_set_is_long_posts_apart_from_the_check_set() -> None:
    config = load_config(ROOT / "config" / "monitor.toml")
    tune, check = read(TUNING_SET), read(CHECK_SET)
    assert all(len(p["text"]) > config.analysis.long_text_chars for p in tune)
    check_texts = " ".join(" ".join(p["text"].split()) for p in check)
    shared = [p["id"] for p in tune if " ".join(p["text"].split())[:200] in check_texts]
    assert not shared and not {p["id"] for p in tune} & {p["id"] for p in check}
