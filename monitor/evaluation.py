"""Measure our scores against human labels.

Reads labelled files (CSV, JSONL, SemEval-2016 TSV, one-text-per-line with a separate labels
file, VADER's rated TSV), scores them with the same ``Analyzer`` that scores stored posts, and
computes the standard figures:

- stance: per target F1 favor, F1 against, F_avg = their mean (SemEval-2016 Task 6), confusion
  matrix; "all" pools every row, as the official scorer does;
- 3-class sentiment: macro-averaged recall (AvgRec, SemEval-2017 Task 4A), macro-F1, F1 of
  positive and negative, accuracy;
- numeric ratings: Pearson r between our compound and the rating.

Each figure comes with the naive baseline on the same rows (stock VADER, and VADER's compound
used as stance), so a number is never quoted without its point of comparison.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.analysis.metrics import (  # noqa: F401  (re-exported for eval_cli and tests)
    SENTIMENT_LABELS,
    STANCE_LABELS,
    confusion,
    pearson,
    per_class_f1,
    sentiment_metrics,
    stance_metrics,
)
from monitor.config import Config, Target, load_targets

FORMATS = ("auto", "csv", "jsonl", "semeval2016", "lines", "ratings")

_STANCE_SYNONYMS = {"favor": "favor", "favour": "favor", "for": "favor", "pro": "favor", "support": "favor",
                    "against": "against", "con": "against", "oppose": "against",
                    "none": "none", "neither": "none", "neutral": "none"}
_SENTIMENT_SYNONYMS = {"positive": "positive", "pos": "positive", "negative": "negative", "neg": "negative",
                       "neutral": "neutral", "neu": "neutral", "neither": "neutral", "none": "neutral",
                       "objective": "neutral"}
_TEXT_COLUMNS = ("text", "tweet", "content", "body", "post", "sentence")
_LABEL_COLUMNS = ("label", "stance", "sentiment", "class", "gold")
_RATING_COLUMNS = ("rating", "score", "mean", "mean_rating", "value")
_TARGET_COLUMNS = ("target", "topic", "entity")
_ESCAPE_RE = re.compile(r"\\u([0-9a-fA-F]{4})")  # literal "\u2019" left in some exported tweets


class EvalDataError(ValueError):
    """The file cannot be read as labelled data; the message says what to change."""


@dataclass(slots=True)
class Example:
    text: str
    label: str | None = None  # favor|against|none or positive|neutral|negative
    rating: float | None = None
    target: str | None = None  # the dataset's target name, if it has one
    line: int | None = None  # where the row starts in its file, for messages


@dataclass(slots=True)
class Dataset:
    examples: list[Example]
    task: str  # stance | sentiment | rating
    name: str
    unlabelled: list[int] = field(default_factory=list)  # lines of rows without a label or rating: not scored

    @property
    def labels(self) -> set[str]:
        return {e.label for e in self.examples if e.label is not None}


# --- reading ---------------------------------------------------------------------------------


def parse_label_map(spec: str | None) -> dict[str, str]:
    """'0=against,1=favor' -> {'0': 'against', '1': 'favor'}."""
    if not spec:
        return {}
    out: dict[str, str] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise EvalDataError(f"--label-map: '{part}' is not RAW=LABEL (example: 0=against,1=none,2=favor)")
        raw, label = part.split("=", 1)
        out[raw.strip().lower()] = label.strip().lower()
    return out


def read_dataset(path: Path, fmt: str = "auto", labels_path: Path | None = None,
                 label_map: dict[str, str] | None = None, target_prefix: bool = False,
                 target: str | None = None) -> Dataset:
    """Read a labelled file. ``target`` names the target for rows that carry none."""
    path = Path(path)
    label_map = dict(label_map or {})
    fmt, rows = _read_rows(path, fmt, labels_path)
    if fmt == "lines" and labels_path is not None and not label_map:
        label_map = _mapping_beside(labels_path)
    examples = _to_examples(rows, label_map, path)
    if target_prefix:
        examples = [split_target_prefix(e) for e in examples]
    if target:
        for e in examples:
            e.target = e.target or target
    task = _task_of(examples, path)
    if task != "rating":
        examples = [_normalise_label(e, task, path) for e in examples]
    unlabelled = [e.line or 0 for e in examples if e.label is None and e.rating is None]
    return Dataset([e for e in examples if e.label is not None or e.rating is not None], task, path.name, unlabelled)


def read_texts(path: Path, fmt: str = "auto") -> list[str]:
    """The texts of a file ``read_dataset`` reads, labelled or not (``monitor stance bootstrap --from``);
    a .txt file is one text per line."""
    path = Path(path)
    if fmt == "auto" and path.suffix.lower() == ".txt":
        fmt = "lines"
    _, rows = _read_rows(path, fmt, None, need_labels=False)
    return [e.text for e in _to_examples(rows, {}, path)]


def _read_rows(path: Path, fmt: str, labels_path: Path | None,
               need_labels: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """(format, raw rows) of a file in one of FORMATS."""
    if not path.exists():
        raise EvalDataError(f"{path}: no such file")
    if fmt == "auto":
        fmt = detect_format(path, labels_path)
    if fmt == "lines":
        if labels_path is None:
            if need_labels:
                raise EvalDataError("format 'lines' needs --labels FILE (one label per line, aligned with the texts)")
            return fmt, [{"text": line} for line in _read_text(path).splitlines()]
        return fmt, _read_lines(path, labels_path)
    readers = {"semeval2016": _read_semeval2016, "ratings": _read_ratings_tsv, "jsonl": _read_jsonl, "csv": _read_csv}
    if fmt not in readers:
        raise EvalDataError(f"unknown format '{fmt}' (use one of {', '.join(FORMATS)})")
    return fmt, readers[fmt](path)


def detect_format(path: Path, labels_path: Path | None = None) -> str:
    if labels_path is not None:
        return "lines"
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    head = _read_text(path)[:4096]
    first = head.splitlines()[0] if head else ""
    if "\t" in first:
        cols = [c.strip().lower() for c in first.split("\t")]
        if {"target", "tweet", "stance"} <= set(cols):
            return "semeval2016"
        if len(cols) >= 3 and _is_number(cols[1]):
            return "ratings"
    return "csv"


def split_target_prefix(example: Example) -> Example:
    """'Donald Trump. Great rally tonight' -> target 'Donald Trump', text 'Great rally tonight'.

    For files that put the target in front of the text (the multi-target stance set does).
    """
    head, sep, rest = example.text.partition(". ")
    if sep and 0 < len(head.split()) <= 5:
        return Example(rest, example.label, example.rating, example.target or head.strip(), example.line)
    return example


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # SemEval-2016 has a few stray Windows bytes


def _read_semeval2016(path: Path) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(_read_text(path)), delimiter="\t", quoting=csv.QUOTE_NONE)
    out = []
    for row in reader:
        lowered = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
        out.append({"text": lowered.get("tweet", ""), "label": lowered.get("stance"),
                    "target": lowered.get("target"), "line": reader.line_num})
    return out


def _read_ratings_tsv(path: Path) -> list[dict[str, Any]]:
    out = []
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        parts = line.split("\t")
        if len(parts) < 3 or not _is_number(parts[1]):
            continue
        out.append({"text": "\t".join(parts[2:]), "rating": parts[1], "line": lineno})
    return out


def _read_lines(path: Path, labels_path: Path) -> list[dict[str, Any]]:
    texts = _read_text(path).splitlines()
    labels = _read_text(labels_path).splitlines()
    if texts and not texts[-1].strip() and len(texts) == len(labels) + 1:
        texts = texts[:-1]
    if len(texts) != len(labels):
        raise EvalDataError(f"{path} has {len(texts)} lines but {labels_path} has {len(labels)}; they must align")
    pairs = zip(texts, labels, strict=True)
    return [{"text": t, "label": lab.strip(), "line": n} for n, (t, lab) in enumerate(pairs, start=1)]


def _mapping_beside(labels_path: Path) -> dict[str, str]:
    """TweetEval ships mapping.txt ('0<TAB>negative') next to its labels: use it when present."""
    mapping = labels_path.parent / "mapping.txt"
    out: dict[str, str] = {}
    if mapping.is_file():
        for line in _read_text(mapping).splitlines():
            parts = line.split()
            if len(parts) == 2:
                out[parts[0].lower()] = parts[1].lower()
    return out


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{path}:{lineno}: not JSON: {exc}") from exc
        if not isinstance(record, dict):
            raise EvalDataError(f"{path}:{lineno}: each line must be a JSON object")
        out.append({**_pick_columns({str(k).lower(): v for k, v in record.items()}, path), "line": lineno})
    return out


def _read_csv(path: Path) -> list[dict[str, Any]]:
    text = _read_text(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    rows = []
    for row in reader:
        rows.append({**_pick_columns({(k or "").strip().lower(): v for k, v in row.items()}, path),
                     "line": _first_line(reader.line_num, row)})
    return rows


def _first_line(last_line: int, row: dict[Any, Any]) -> int:
    """The first line of a CSV row that ends on ``last_line``: a quoted value may span lines."""
    values = [x for v in row.values() for x in (v if isinstance(v, list) else [v]) if isinstance(x, str)]
    return last_line - sum(value.count("\n") for value in values)


def _pick_columns(row: dict[str, Any], path: Path) -> dict[str, Any]:
    text = next((row[c] for c in _TEXT_COLUMNS if c in row), None)
    if text is None:
        raise EvalDataError(f"{path}: no text column (expected one of: {', '.join(_TEXT_COLUMNS)})")
    return {"text": text, "label": next((row[c] for c in _LABEL_COLUMNS if c in row), None),
            "rating": next((row[c] for c in _RATING_COLUMNS if c in row), None),
            "target": next((row[c] for c in _TARGET_COLUMNS if c in row), None)}


def _to_examples(rows: Iterable[dict[str, Any]], label_map: dict[str, str], path: Path) -> list[Example]:
    out: list[Example] = []
    for row in rows:
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            continue
        if "\\u" in text:  # TweetEval keeps some characters as literal escapes ("can\u2019t")
            text = _ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text)
        label = row.get("label")
        rating = row.get("rating")
        if label is not None and str(label).strip() != "":
            raw = str(label).strip().lower()
            label = label_map.get(raw, raw)
        else:
            label = None
        value: float | None = None
        if rating is not None and str(rating).strip() != "":
            if not _is_number(str(rating)):
                raise EvalDataError(f"{path}:{row.get('line')}: field 'rating': '{rating}' is not a number")
            value = float(rating)
        target = row.get("target")
        out.append(Example(text, label, value, str(target).strip() if target else None, row.get("line")))
    if not out:
        raise EvalDataError(f"{path}: no labelled rows found")
    return out


def _task_of(examples: list[Example], path: Path) -> str:
    labels = {e.label for e in examples if e.label is not None}
    if not labels:
        if all(e.rating is not None for e in examples):
            return "rating"
        raise EvalDataError(f"{path}: rows need a 'label' (or a numeric 'rating')")
    if labels & {"favor", "favour", "against", "pro", "con"}:
        return "stance"
    if labels & {"positive", "negative", "pos", "neg"}:
        return "sentiment"
    if all(_is_number(x) for x in labels):
        if len(labels) > 5 or any(not float(x).is_integer() for x in labels):
            for e in examples:  # a numeric label column with many values is a rating
                e.rating, e.label = float(e.label), None  # type: ignore[arg-type]
            return "rating"
        raise EvalDataError(
            f"{path}: numeric labels {sorted(labels)}; say what they mean with --label-map, "
            "for example --label-map 0=against,1=none,2=favor or --label-map 0=negative,1=neutral,2=positive")
    raise EvalDataError(f"{path}: labels {sorted(labels)[:8]} are neither stance (favor/against/none) "
                        "nor sentiment (positive/neutral/negative); use --label-map")


def _normalise_label(example: Example, task: str, path: Path) -> Example:
    if example.label is None:
        return example
    table = _STANCE_SYNONYMS if task == "stance" else _SENTIMENT_SYNONYMS
    label = table.get(example.label)
    if label is None:
        raise EvalDataError(f"{path}:{example.line}: field 'label': '{example.label}' is not a {task} label; "
                            "use --label-map")
    example.label = label
    return example


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


# --- targets ---------------------------------------------------------------------------------

_NAME_STOPWORDS = {"a", "an", "the", "of", "is", "are", "and", "or", "to", "in", "on", "for", "be", "it", "real",
                   "concern", "movement"}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "target"


def adhoc_target(name: str) -> Target:
    """A stance target built from a bare name, for zero-shot scoring of targets not configured.

    Aliases are the name and its content words ('Legalization of Abortion' -> also 'Abortion',
    'Legalization'; 'Hillary Clinton' -> also 'Hillary', 'Clinton').
    """
    words = re.findall(r"[\w'-]+", name)
    parts: list[str] = []
    chunk: list[str] = []
    for word in [*words, ""]:
        if word and word.lower() not in _NAME_STOPWORDS:
            chunk.append(word)
            continue
        if len(chunk) > 1:
            parts.append(" ".join(chunk))
        parts.extend(w for w in chunk if len(w) > 2)
        chunk = []
    aliases = list(dict.fromkeys([name, *parts]))
    return Target(id=slug(name), name=name, kind="person" if _looks_like_person(words) else "topic", aliases=aliases)


_TOPIC_SUFFIXES = ("ism", "ist", "ists", "ment", "tion", "sion", "ity", "ness", "ance", "ence", "ing", "ics")


def _looks_like_person(words: list[str]) -> bool:
    """'Hillary Clinton' yes; 'Feminist Movement', 'Legalization of Abortion', 'Atheism' no."""
    return (2 <= len(words) <= 3 and all(w[:1].isupper() for w in words)
            and not any(w.lower().endswith(_TOPIC_SUFFIXES) or w.lower() in _NAME_STOPWORDS for w in words))


def resolve_target(config: Config, name: str) -> Target:
    """The configured target this dataset target means (by id, name or alias), else an ad-hoc one."""
    key = name.strip().lower()
    for target in config.targets:
        names = {target.id.lower(), target.name.lower(), *(a.lower() for a in target.aliases),
                 *(a.lower() for a in target.exact_aliases)}
        if key in names:
            return target
    return adhoc_target(name)


def config_with_targets(config: Config, extra: Iterable[Target], store_unmatched: bool = False) -> Config:
    """A copy of ``config`` with ad-hoc targets added (the original is not changed)."""
    known = {t.id for t in config.targets}
    targets = [*config.targets, *(t for t in extra if t.id not in known)]
    analysis = config.analysis.model_copy(update={"store_unmatched": store_unmatched or
                                                  config.analysis.store_unmatched})
    return config.model_copy(update={"targets": targets, "analysis": analysis})


def config_with_targets_files(config: Config, paths: Iterable[Path]) -> Config:
    """``config`` with the ``[[targets]]`` of each file (--targets), replacing configured ones with
    the same id."""
    return config_replacing_targets(config, [t for path in paths for t in load_targets(path)])


def config_replacing_targets(config: Config, targets: Iterable[Target]) -> Config:
    """A copy of ``config`` with ``targets`` in it, replacing configured ones with the same id
    (for trying a target's aliases and cues, e.g. config/examples/*.toml, before adopting them)."""
    targets = list(targets)
    ids = {t.id for t in targets}
    kept = [t for t in config.targets if t.id not in ids]
    return config_with_targets(config.model_copy(update={"targets": kept}), targets)


# --- evaluation ------------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    """Figures for one dataset: per group (target, or 'all'), ours and each baseline."""

    name: str
    task: str
    n: int
    groups: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # group -> system -> metrics
    scorers: dict[str, str] = field(default_factory=dict)  # system -> scorer name/version
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"dataset": self.name, "task": self.task, "n": self.n, "scorers": self.scorers,
                "groups": self.groups, "notes": self.notes}


def vader_stance(compound: float, binary: bool) -> str:
    """VADER's compound used as stance: the naive baseline (pos->favor, neg->against)."""
    if binary:
        return "favor" if compound >= 0 else "against"
    return "favor" if compound >= 0.05 else "against" if compound <= -0.05 else "none"


def vader_sentiment(compound: float) -> str:
    return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"


def _stock_vader() -> Callable[[str], float]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return lambda text: analyzer.polarity_scores(text)["compound"]


def evaluate(dataset: Dataset, config: Config, models_dir: Path | None = None, target_id: str | None = None,
             binary: bool | None = None, baselines: bool = True,
             progress: Callable[[int], None] | None = None) -> Report:
    """Score ``dataset`` with our analyser and the baselines; see the module docstring for figures."""
    if dataset.task == "stance":
        report = evaluate_stance(dataset, config, models_dir, target_id, binary, baselines, progress)
    else:
        report = evaluate_sentiment(dataset, config, baselines, progress)
    if dataset.unlabelled:
        lines = ", ".join(map(str, dataset.unlabelled[:10])) + (", ..." if len(dataset.unlabelled) > 10 else "")
        count = len(dataset.unlabelled)
        report.notes.append(f"{count} row{'s' if count > 1 else ''} without a label not scored (line {lines})")
    return report


def evaluate_stance(dataset: Dataset, config: Config, models_dir: Path | None = None, target_id: str | None = None,
                    binary: bool | None = None, baselines: bool = True,
                    progress: Callable[[int], None] | None = None) -> Report:
    from monitor.analysis.analyzers import make_analyzer

    examples = [e for e in dataset.examples if e.label is not None]
    if binary is None:  # a set without NONE gold labels (P-Stance) is scored as a two-way decision
        binary = "none" not in {e.label for e in examples}
    fixed = config.target(target_id) if target_id else None
    resolved: dict[str, Target] = {}
    for e in examples:
        name = e.target or ""
        if fixed is None and name and name not in resolved:
            resolved[name] = resolve_target(config, name)
    if fixed is None and not resolved:
        raise EvalDataError(f"{dataset.name}: rows have no target; pass --target ID (a configured target)")
    analyzer = make_analyzer(config_with_targets(config, resolved.values()), models_dir)
    stock = _stock_vader() if baselines else None
    rows: list[tuple[str, str, str, str | None]] = []  # group, gold, ours, vader
    scorer_names: set[str] = set()
    targets = [fixed or resolved[e.target or ""] for e in examples]
    results = analyse_for_targets(analyzer, [(e.text, t.id) for e, t in zip(examples, targets, strict=True)],
                                   progress=progress)
    for e, target, result in zip(examples, targets, results, strict=True):
        stance = stance_toward(result, target.id)
        label = "none"
        if stance is not None:
            scorer_names.add(f"{stance.scorer} {stance.version}")
            label = stance.label
            if binary and label == "none":
                label = "favor" if stance.score >= 0 else "against"
        vader = vader_stance(stock(e.text), binary) if stock else None
        rows.append((target.name, e.label or "none", label, vader))
    report = Report(dataset.name, "stance", len(rows))
    report.scorers = {"ours": ", ".join(sorted(scorer_names)) or "-", "vader-as-stance": "vaderSentiment (stock)"}
    if binary:
        report.notes.append("binary gold labels (no NONE): 'none' predictions resolved by the sign of the score; "
                            "VADER-as-stance: compound >= 0 -> favor")
    groups = sorted({r[0] for r in rows})
    for group in [*groups, "all"] if len(groups) > 1 else groups:
        sel = [r for r in rows if group in ("all", r[0])]
        gold = [r[1] for r in sel]
        systems = {"ours": stance_metrics(gold, [r[2] for r in sel])}
        if stock:
            systems["vader-as-stance"] = stance_metrics(gold, [r[3] or "none" for r in sel])
        systems["majority"] = stance_metrics(gold, [_majority(gold)] * len(gold))
        report.groups[group] = systems
    return report


def analyse_for_targets(analyzer: Any, items: Sequence[tuple[str, str]], chunk: int = 256,
                         progress: Callable[[int], None] | None = None) -> list[Any]:
    """Each (text, target id) analysed with that target forced in ("": none), in batches per
    target (the learned analyzer scores a batch at a time)."""
    done_count = 0
    results: list[Any] = [None] * len(items)
    by_target: dict[str, list[int]] = {}
    for i, (_, target_id) in enumerate(items):
        by_target.setdefault(target_id, []).append(i)
    for target_id, indices in by_target.items():
        for start in range(0, len(indices), chunk):
            part = indices[start:start + chunk]
            done = analyzer.analyse_many([(items[i][0], "en") for i in part],
                                         force_targets=(target_id,) if target_id else ())
            for i, result in zip(part, done, strict=True):
                results[i] = result
            done_count += len(part)
            if progress:
                progress(done_count)
    return results


def stance_toward(analysis: Any, target_id: str) -> Any:
    """The analysis's StanceResult for a target, or None (not mentioned, or not scored)."""
    return next((t.stance for t in analysis.targets if t.target_id == target_id), None)


def _majority(gold: Sequence[str]) -> str:
    counts = Counter(gold)
    return max(("against", "favor", "none"), key=lambda lab: counts.get(lab, 0))


def evaluate_sentiment(dataset: Dataset, config: Config, baselines: bool = True,
                       progress: Callable[[int], None] | None = None) -> Report:
    from monitor.analysis.analyzers import make_analyzer

    analyzer = make_analyzer(config_with_targets(config, (), store_unmatched=True), None)
    stock = _stock_vader() if baselines else None
    ours: list[float] = []
    base: list[float] = []
    labels: list[str] = []
    ours_labels: list[str] = []
    results = analyse_for_targets(analyzer, [(e.text, "") for e in dataset.examples], progress=progress)
    for e, result in zip(dataset.examples, results, strict=True):
        compound = result.compound if result.compound is not None else 0.0
        ours.append(compound)
        ours_labels.append(result.label or "neutral")
        if stock:
            base.append(stock(e.text))
    report = Report(dataset.name, dataset.task, len(ours))
    report.scorers = {"ours": f"{analyzer.name} {analyzer.version}",
                      "stock-vader": "vaderSentiment (stock), thresholds +-0.05"}
    if dataset.task == "rating":
        ratings = [e.rating for e in dataset.examples]
        systems = {"ours": {"n": len(ours), "pearson_r": round(pearson(ours, ratings), 4)}}  # type: ignore[arg-type]
        if stock:
            systems["stock-vader"] = {"n": len(base), "pearson_r": round(pearson(base, ratings), 4)}  # type: ignore[arg-type]
        report.groups["all"] = systems
        return report
    labels = [e.label or "neutral" for e in dataset.examples]
    systems = {"ours": sentiment_metrics(labels, ours_labels)}
    if stock:
        systems["stock-vader"] = sentiment_metrics(labels, [vader_sentiment(c) for c in base])
    report.groups["all"] = systems
    report.notes.append(f"our labels: {analyzer.label_rule}")
    return report


# --- labelling -------------------------------------------------------------------------------

LABEL_FIELDS = ("text", "label", "target", "post_key")


def labelled_keys(path: Path) -> set[str]:
    """Post keys (and texts, for rows without a key) already in a labels file."""
    path = Path(path)
    if not path.is_file():
        return set()
    with path.open(encoding="utf-8", newline="") as fh:
        return {row.get("post_key") or row.get("text") or "" for row in csv.DictReader(fh)}


def append_label(path: Path, text: str, label: str, target_id: str, post_key: str | None = None) -> None:
    """Append one labelled row (CSV text,label,target,post_key; header written for a new file).

    The file is what ``monitor stance train`` and ``monitor eval`` read.
    """
    label = label.strip().lower()
    if label not in STANCE_LABELS:
        raise ValueError(f"label must be one of {', '.join(STANCE_LABELS)}, not {label!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=LABEL_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow({"text": text, "label": label, "target": target_id, "post_key": post_key or ""})


def sample_posts(con: Any, target_id: str, count: int, exclude: set[str] | None = None,
                 seed: int | None = None) -> list[tuple[str, str]]:
    """Up to ``count`` random stored posts that mention the target: (post_key, text).

    ``con`` is a DuckDB connection to the store; posts whose key (or text) is in ``exclude`` are
    skipped, so a labelling session continues where the last one stopped.
    """
    from monitor.summary import post_texts

    exclude = exclude or set()
    if seed is not None:
        con.execute("SELECT setseed(?)", [((seed % 1000) / 1000.0)])
    # The keys are drawn first, then only their texts are read: joining every mention of the target to
    # its post's text before drawing took 1.1 GB and 2.8 s on 10M posts.
    keys = [k for (k,) in con.execute("SELECT post_key FROM mentions WHERE target_id = ? ORDER BY random() LIMIT ?",
                                      [target_id, count + len(exclude)]).fetchall()]
    texts = post_texts(con, keys)  # found by key hash: over 10M posts 0.38 GB, by key 1 GB
    rows = [(k, texts[k][0]) for k in keys if k in texts]
    out = [(str(k), str(t)) for k, t in rows if k not in exclude and t not in exclude and str(t).strip()]
    return out[:count]
