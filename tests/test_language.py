"""The language guess recognises common languages, and a post in a language the analyzer does not
score is stored unscored, never scored as if it were English."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from monitor.analysis.language import (
    ANALYZER_LANGUAGES,
    guess_language,
    scored_languages,
    unscorable_languages_message,
)
from monitor.analysis.pipeline import Analyzer

EVAL_DIR = Path(__file__).parents[1].parent / "shared" / "eval"

SENTENCES = {
    "de": ["Elon Musk ist ein großartiger Visionär und ich liebe ihn",
           "Die neue KI von OpenAI ist wirklich beeindruckend, aber sehr teuer",
           "Ich glaube nicht, dass Tesla das schafft"],
    "fr": ["Satya Nadella est un excellent PDG",
           "Je pense que Sam Altman a raison sur ce point",
           "Elon Musk a encore fait une annonce incroyable"],
    "es": ["Elon Musk es un genio y me encanta lo que hace",
           "La nueva inteligencia artificial de OpenAI es muy impresionante",
           "No creo que Tesla pueda hacerlo este año"],
    "it": ["Elon Musk è un genio e non lo dico per scherzo",
           "Questo nuovo modello di OpenAI è molto interessante",
           "Sam Altman ha detto che il progetto Stargate sarà enorme"],
    "pt": ["Elon Musk é um gênio e eu adoro o que ele faz",
           "Não acho que a Tesla consiga fazer isso este ano",
           "A nova inteligência artificial da OpenAI é muito impressionante"],
    "nl": ["Elon Musk is een genie en ik vind hem geweldig",
           "Ik denk niet dat Tesla dat dit jaar gaat halen",
           "De nieuwe AI van OpenAI is echt heel indrukwekkend"],
    "en": ["Elon Musk is a visionary and I love him",
           "La La Land was on TV while Sam Altman talked about Stargate",
           "Der Spiegel reports that Musk will sue OpenAI",
           "I had a café latte with the Nvidia guys, Jensen Huang was there",
           "Samsung UN46ES7500 deals with free shipping for the holidays",
           "Satya Nadella: Microsoft is good for our $80B"],
}


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_common_languages_are_recognised(lang: str) -> None:
    assert [guess_language(text) for text in SENTENCES[lang]] == [lang] * len(SENTENCES[lang])


def test_names_alone_give_no_evidence() -> None:
    assert guess_language("Satya Nadella") is None
    assert guess_language("12345 !!!") is None


@pytest.mark.skipif(not (EVAL_DIR / "pstance").exists(), reason="development data not present")
def test_english_tweets_are_not_taken_for_another_language() -> None:
    """Every English post guessed as another language would lose its score: on 7,000 English
    development tweets, (almost) none may be."""
    with open(EVAL_DIR / "pstance" / "raw_train_trump.csv", encoding="utf-8") as fh:
        tweets = [row["Tweet"] for row in csv.DictReader(fh)]
    other = [t for t in tweets if guess_language(t) in ("de", "fr", "es", "it", "pt", "nl")]
    assert len(tweets) > 5000 and len(other) <= len(tweets) // 2000, other[:5]


def test_both_analyzers_score_english_only() -> None:
    assert ANALYZER_LANGUAGES == {"vader": frozenset({"en"}), "learned": frozenset({"en"})}
    assert scored_languages("vader", ["en", "de"]) == {"en"}
    assert unscorable_languages_message("vader", ["en"]) is None
    message = unscorable_languages_message("learned", ["en", "de", "fr"])
    assert message is not None and "'learned' analyzer scores only en" in message and "de, fr" in message


def test_a_french_post_is_stored_unscored_with_the_english_only_config(config) -> None:
    result = Analyzer(config).analyse("Satya Nadella est un excellent PDG")
    assert (result.lang, result.scored) == ("fr", False)
    assert [(t.target_id, t.stance) for t in result.targets] == [("nadella", None)]


def test_a_german_post_is_not_scored_as_english_when_de_is_configured(config) -> None:
    german = config.model_copy(deep=True)
    german.analysis.languages = ["en", "de"]
    result = Analyzer(german).analyse("Elon Musk ist ein großartiger Visionär und ich liebe ihn")
    assert (result.lang, result.scored, result.label) == ("de", False, None)


def test_the_language_is_guessed_only_for_posts_that_will_be_stored(config, monkeypatch) -> None:
    import monitor.analysis.pipeline as pipeline

    guessed: list[str] = []
    monkeypatch.setattr(pipeline, "guess_language", lambda text: guessed.append(text) or guess_language(text))
    analyzer = Analyzer(config)
    unmatched = analyzer.analyse("Der Wetterbericht für morgen ist nicht gut, aber ich gehe trotzdem")
    assert (unmatched.lang, unmatched.scored, unmatched.targets) == (None, False, [])
    assert guessed == []  # no mention, not stored: no guess
    assert analyzer.analyse("Satya Nadella est un excellent PDG").lang == "fr"
    assert guessed == ["Satya Nadella est un excellent PDG"]


def test_unmatched_posts_stored_anyway_keep_their_guessed_language(config) -> None:
    from monitor.ingest.pool import analyse_batch

    items = [("k1", "Der Wetterbericht für morgen ist nicht gut, aber ich gehe trotzdem", None),
             ("k2", "The weather is not good but I will go out anyway", "en"),
             ("k3", "Satya Nadella est un excellent PDG", None)]
    analyzer = Analyzer(config)
    dropped = analyse_batch(analyzer, items)  # a plain import: unmatched posts are not stored
    assert dropped.keep == [False, False, True]
    rescored = analyse_batch(analyzer, items, keep_all=True)  # a rescore keeps them: with a language
    assert rescored.keep == [True, True, True]
    langs = dict(zip(*rescored.tables["post_sentiment"].select(["post_key", "lang"]).to_pydict().values(), strict=True))
    assert langs == {"k1": "de", "k2": "en", "k3": "fr"}
    stored_unmatched = config.model_copy(deep=True)
    stored_unmatched.analysis.store_unmatched = True
    kept = analyse_batch(Analyzer(stored_unmatched), items)
    assert kept.keep == [True, True, True]
    assert kept.tables["post_sentiment"].column("lang").to_pylist() == ["de", "en", "fr"]
