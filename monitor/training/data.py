"""Readers for the development data in ../shared/eval (the path is always given at run time; nothing is copied).

Label orders follow the runtime (``monitor.analysis.learned``): sentiment 0/1/2 = negative/neutral/positive,
stance 0/1/2 = against/none/favor. No Donald Trump label is ever read for the default model: P-Stance Trump is read
only by the evaluation (zero-shot check on VAL) and the trained-head check, and the multi-target set's Trump pairs
are dropped here.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from pathlib import Path

from monitor.analysis.learned import normalize_text

STANCE_CODES = {"AGAINST": 0, "NONE": 1, "FAVOR": 2}
SEMEVAL16_TARGETS = (
    "Atheism",
    "Climate Change is a Real Concern",
    "Feminist Movement",
    "Hillary Clinton",
    "Legalization of Abortion",
)
PSTANCE_NAMES = {"trump": "Donald Trump", "biden": "Joe Biden", "bernie": "Bernie Sanders"}
TRUMP = "Donald Trump"


@dataclass(frozen=True)
class Example:
    text: str
    label: int
    target: str | None = None  # None: a sentiment example (text alone)


def _unescape_semeval(text: str) -> str:
    # The 2013/2015 SemEval files keep literal JSON escapes (see SOURCES.md §6).
    return text.replace("\\u2019", "'").replace("\\u002c", ",").replace('\\"', '"').strip().strip('"')


def sentiment_split(eval_dir: Path, split: str) -> list[Example]:
    folder = eval_dir / "semeval2017_task4a_tweeteval"
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / f"{split}_labels.txt").read_text(encoding="utf-8").split()
    if len(texts) != len(labels):
        raise ValueError(f"{split}: {len(texts)} texts but {len(labels)} labels")
    return [Example(normalize_text(_unescape_semeval(t)), int(y)) for t, y in zip(texts, labels, strict=True)]


def semeval2016_rows(eval_dir: Path) -> list[list[str]]:
    """The rows of SemEval-2016 Task 6 A train + trial (ID, Target, Tweet, Stance, Opinion towards,
    Sentiment), the tweet without the task's collection tag (#SemST, on every tweet: no signal)."""
    rows: list[list[str]] = []
    folder = eval_dir / "semeval2016_task6"
    for name in ("trainingdata-all-annotations.txt", "trialdata-all-annotations.txt"):
        raw = (folder / name).read_bytes().decode("utf-8", errors="replace")  # one file has stray latin-1 bytes
        for row in list(csv.reader(raw.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))[1:]:
            if len(row) >= 3:
                row[2] = row[2].replace("#SemST", " ")
            rows.append(row)
    return rows


def semeval2016(eval_dir: Path) -> list[Example]:
    """SemEval-2016 Task 6 A, train + trial (the official training set), five targets, with NONE."""
    return [Example(normalize_text(row[2]), STANCE_CODES[row[3]], row[1])
            for row in semeval2016_rows(eval_dir) if len(row) >= 4 and row[3] in STANCE_CODES]


def pstance(eval_dir: Path, target: str, split: str) -> list[Example]:
    """P-Stance raw CSV (binary FAVOR/AGAINST), target key trump/biden/bernie, split train/val."""
    path = eval_dir / "pstance" / f"raw_{split}_{target}.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [Example(normalize_text(r["Tweet"]), STANCE_CODES[r["Stance"]], PSTANCE_NAMES[target]) for r in rows]


def multitarget(eval_dir: Path, include_trump: bool = False) -> list[Example]:
    """Sobhani et al. 2017 (train split), one row per (tweet, target); Trump pairs dropped unless asked."""
    names = {"Donald Trump": TRUMP, "Hilary Clinton": "Hillary Clinton", "Ted Cruz": "Ted Cruz",
             "Bernie Sanders": "Bernie Sanders"}
    out: list[Example] = []
    path = eval_dir / "multitarget_stance_sobhani2017" / "preprocessed.csv"
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            prefix, _, tweet = row["text"].partition(". ")
            target = names.get(prefix)
            if target is None or (target == TRUMP and not include_trump):
                continue
            out.append(Example(normalize_text(tweet), int(row["label"]), target))
    return out


def unrelated_pairs(examples: list[Example], targets: list[str], n: int, seed: int) -> list[Example]:
    """Texts paired with a target they are not about, labelled none: a post that does not talk about a target has
    no stance towards it. Targets that co-occur in politics (the candidates) are never paired with each other's
    tweets, since a tweet about one candidate often is a stance on the others."""
    rng = random.Random(seed)
    politics = {"Hillary Clinton", "Bernie Sanders", "Joe Biden", "Ted Cruz", TRUMP}
    pool = [e for e in examples if e.target is not None]
    out: list[Example] = []
    while len(out) < n and pool:
        e = rng.choice(pool)
        t = rng.choice(targets)
        if t == e.target or (t in politics and e.target in politics):
            continue
        out.append(Example(e.text, 1, t))
    return out


# A name in a tweet: a run of capitalised words, none of them a common capitalised word (days, months,
# pronouns, "Happy", "Watch", ...).
_NAME_WORD = re.compile(r"[A-Z][A-Za-z'&-]*[A-Za-z]|[A-Z]{2,}")
_NOT_NAMES = frozenset("""
Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August
September October November December Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Christmas Halloween
Thanksgiving Easter Birthday Merry Morning Evening Time Year Day Night Week Weekend Today Tonight Tomorrow Yesterday
I I'm I'll I've I'd Im The A An My We You He She It It's This That These Those Me Him Them They Us Our Your His Her
Their There Here Now Then Also Still Even Only Some Any Every Like Well All No Not Yes And But So If What When Who Why
How Is Are Do Did Does Can Could Will Would Have Has Had Was Were Be Been Being Its In On At To For Of With From By As
Up Out Off Over Into About After Before Just Don't Can't Won't Didn't Isn't Aren't Gonna Wanna Gotta Let's Who's
What's That's There's Here's He's She's We're They're You're RT Happy Good New Lol LOL Oh OMG Thanks Thank Please
Let Get Got Go Going Watch Watching Check Live Game Show Love Best Great St Mr Ms Mrs Dr Hey Hi Wow Yeah Ok OK Okay
Via Video Photo Pic News Breaking Update Free Big First Last Next One Two Three
""".split())


def mentioned_name(text: str) -> str | None:
    """The longest run (one to three words) of capitalised words in ``text`` that looks like a name
    ("Rick Perry", "ESPN", "De Gea"), or None. A sentence's first word counts only as part of a longer
    run ("Charlie Sheen seems", not "Watching the game"); punctuation after a word ends a run. Pairs a
    tweet with what it talks about (recipe l4; it trained on exactly this, quirks included: punctuation
    before a word does not end a run, so "Gil Gerard (Buck Rogers)" gives "Gil Gerard Buck")."""
    words = text.split()
    runs: list[list[str]] = []
    run: list[str] = []
    starts_sentence = False
    for i, word in enumerate([*words, ""]):  # the empty word ends the last run
        core = word.strip("\"'()[],.!?:;")
        if core not in _NOT_NAMES and _NAME_WORD.fullmatch(core) and not word.startswith(("@", "#", "http")):
            if not run:
                starts_sentence = i == 0 or words[i - 1].endswith((".", "!", "?", ":"))
            run.append(core)
            if word == core or word.endswith("'s"):
                continue
        if run and not (starts_sentence and len(run) == 1):  # a sentence's first word alone is not a name
            runs.append(run)
        run = []
    names = [r for r in runs if len(r) <= 3 and (len(r) > 1 or len(r[0]) >= 4)]
    return " ".join(max(names, key=len)).removesuffix("'s") if names else None


def mention_pairs(tweets: list[Example], n: int, seed: int,
                  exclude_words: tuple[str, ...] = ("trump",)) -> list[Example]:
    """Sentiment-labelled ``tweets`` (the SemEval-2017 4A train set, in file order) paired with a name they
    mention, labelled by their sentiment (negative -> against, neutral -> none, positive -> favor): weak labels
    that teach the stance head that a post naming a company or a person often takes no side, and reads a side
    from how it is said, not from who is named. Neutral alone (every pair none) taught "a name that is not a
    political target -> none": 94% of the domain check set's social pairs came out none. Tweets containing any
    of ``exclude_words`` are left out: no Trump label, and leave-one-target-out keeps its target unseen."""
    out: list[Example] = []
    for tweet in tweets:
        lowered = tweet.text.lower()
        if any(word in lowered for word in exclude_words):
            continue
        name = mentioned_name(tweet.text)
        if name is not None:
            out.append(Example(tweet.text, tweet.label, name))  # sentiment order = stance order
    random.Random(seed).shuffle(out)
    return out[:n]


def split_holdout(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded (train, holdout) split, stratified by target."""
    rng = random.Random(seed)
    train: list[Example] = []
    hold: list[Example] = []
    by_target: dict[str | None, list[Example]] = {}
    for e in examples:
        by_target.setdefault(e.target, []).append(e)
    for group in by_target.values():
        group = group[:]
        rng.shuffle(group)
        k = int(len(group) * fraction)
        hold += group[:k]
        train += group[k:]
    return train, hold
