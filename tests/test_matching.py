"""Target matching: aliases, case rules, handles, hashtags, possessives and disambiguation."""

from __future__ import annotations

import pytest

from monitor.analysis.matching import Matcher, split_hashtag


@pytest.fixture(scope="module")
def matcher(config):
    return Matcher(config)


def targets(matcher: Matcher, text: str) -> list[str]:
    return sorted(m.target_id for m in matcher.match(text))


@pytest.mark.parametrize("text, expected", [
    ("OpenAI, Oracle and SoftBank announce Stargate, a $500B AI infrastructure project",
     ["openai", "oracle", "softbank", "stargate"]),
    ("Rewatching Stargate SG-1 tonight", []),
    ("Stargate Atlantis was better than Stargate Universe", []),
    ("Stargate (1994) with Kurt Russell is a classic film", []),
    ("Stargate", []),  # ambiguous alone: no AI context
    ("The #StargateAI data centre in Abilene", ["stargate"]),
    ("Masayoshi Son says Stargate will create jobs", ["son", "stargate"]),
    ("SoftBank's Son said the money is there", ["softbank", "son"]),
    ("My son said hi to SoftBank staff", ["softbank"]),
    ("Son", []),
    ("son of a gun", []),
    ("Trump announced the project at the White House", ["trump"]),
    ("Her argument trumps everything; he trumped them all", []),
    ("Lead the trump card and then a trump suit", []),
    ("Musk's reply to Altman’s post", ["altman", "musk"]),
    ("the musk ox and a musk scent", []),
    ("@elonmusk and @sama are fighting again", ["altman", "musk"]),
    ("#ElonMusk vs #samaltman", ["altman", "musk"]),
    ("#MuskIsWrong about the money", ["musk"]),
    ("Satya Nadella: I'm good for my $80 billion", ["nadella"]),
    ("Benioff predicts a Microsoft–OpenAI rift after Mustafa Suleyman's hire",
     ["benioff", "microsoft", "openai", "suleyman"]),
    ("Larry Ellison at the White House", ["ellison"]),
    ("Keith Ellison, Minnesota's attorney general", []),
    ("I broke my arm skiing", []),
    ("Arm chips and SoftBank's bet", ["arm", "softbank"]),
    ("Nvidia and xAI; XAI and x.ai", ["nvidia", "xai"]),
])
def test_matching_cases(matcher: Matcher, text: str, expected: list[str]) -> None:
    assert targets(matcher, text) == expected


def test_mention_records_alias_and_position(matcher: Matcher) -> None:
    [mention] = matcher.match("Yesterday Sam Altman fired back")
    assert mention.alias == "Sam Altman"
    assert "Yesterday Sam Altman fired back"[mention.start:mention.end] == "Sam Altman"


def test_rules_version_changes_with_rules(config) -> None:
    changed = config.model_copy(deep=True)
    changed.targets[0].aliases.append("Stargate Texas")
    assert changed.rules_version != config.rules_version


def test_split_hashtag() -> None:
    assert split_hashtag("StargateIsAScam") == "Stargate Is A Scam"
    assert split_hashtag("AIBubble") == "AI Bubble"
    assert split_hashtag("maga") == "maga"
