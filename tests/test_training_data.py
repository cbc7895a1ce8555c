"""The recipe's weak (name, tweet) pairs: which name a tweet is paired with, and what they leave out."""

from __future__ import annotations

import pytest

from monitor.training import data
from tests.conftest import EVAL_DIR


@pytest.mark.parametrize(("text", "name"), [
    ("Charlie Sheen seems pretty confident for his show", "Charlie Sheen"),  # a sentence's first word joins a run
    ("Watching the game tonight with everyone", None),  # ... but is not a name alone
    ("Real Madrid will sign De Gea tomorrow with help of FIFA!", "Real Madrid"),
    ("Going to Olive Garden's tonight", "Olive Garden"),
    ("so excited for Friday and the weekend", None),  # common capitalised words are not names
    ("@user thinks #Apple is done, says ESPN.", "ESPN"),  # handles and hashtags are not names
    ("Kasich. Rubio and Jeb Bush met. Cruz left", "Jeb Bush"),  # the longest run wins
])
def test_mentioned_name(text: str, name: str | None) -> None:
    assert data.mentioned_name(text) == name


def test_mention_pairs_label_by_sentiment_and_skip_excluded_words() -> None:
    tweets = [data.Example("Just watched the Red Sox win again, amazing", 2),
              data.Example("Big rally for Donald Trump in Ohio", 1),
              data.Example("nothing to see here", 1),
              data.Example("so tired of Comcast Cable and its outages", 0),
              data.Example("Apple opens a store in Leeds today", 1)]
    pairs = data.mention_pairs(tweets, 10, seed=1)
    # "Apple" starts its sentence alone: the name is "Leeds"; the Trump tweet is left out.
    assert sorted((e.target, e.label) for e in pairs) == [("Comcast Cable", 0), ("Leeds", 1), ("Red Sox", 2)]
    fewer = data.mention_pairs(tweets, 10, seed=1, exclude_words=("trump", "leeds"))
    assert sorted(e.target for e in fewer) == ["Comcast Cable", "Red Sox"]
    assert len(data.mention_pairs(tweets, 2, seed=1)) == 2


@pytest.mark.skipif(not (EVAL_DIR / "semeval2017_task4a_tweeteval").exists(), reason="../shared/eval is not available")
def test_mention_pairs_take_the_tweets_sentiment_and_leave_out_trump() -> None:
    tweets = data.sentiment_split(EVAL_DIR, "train")
    pairs = data.mention_pairs(tweets, 3000, seed=13)
    assert len(pairs) == 3000 and {e.label for e in pairs} == {0, 1, 2}
    assert not any("trump" in e.text.lower() for e in pairs)
    sentiment = {e.text: e.label for e in tweets}
    assert all(sentiment[e.text] == e.label and e.target for e in pairs)
    # Seeded, and the excluded words: on fewer tweets (each call reads every tweet it is given), the Clinton ones
    # among them.
    some = tweets[:3000] + [e for e in tweets if "clinton" in e.text.lower()]
    assert data.mention_pairs(some, 500, seed=13) == data.mention_pairs(some, 500, seed=13)
    without = data.mention_pairs(some, 100_000, seed=13, exclude_words=("trump", "hillary", "clinton"))
    assert without and not any("clinton" in e.text.lower() for e in without)
    assert any("clinton" in e.text.lower() for e in data.mention_pairs(some, 100_000, seed=13))


@pytest.mark.skipif(not (EVAL_DIR / "semeval2016_task6").exists(), reason="../shared/eval is not available")
def test_the_recipe_leaves_out_trump_and_the_left_out_target() -> None:
    from monitor.training.recipe import training_sets

    _, stance, _ = training_sets(EVAL_DIR, seed=13, scale=0.1, exclude_target="Hillary Clinton")
    assert not any(e.target in (data.TRUMP, "Hillary Clinton") for e in stance)
    weak = [e for e in stance if e.target not in data.SEMEVAL16_TARGETS and e.target not in
            ("Joe Biden", "Bernie Sanders", "Ted Cruz")]
    assert len(weak) > 500  # the mention pairs are in
    assert not any(word in e.text.lower() for e in weak for word in ("trump", "hillary", "clinton"))
