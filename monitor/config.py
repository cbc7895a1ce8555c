"""Configuration: targets, archives, sources and thresholds, from a TOML file validated by pydantic.

Errors name the file and the key path (``targets[2].aliases``) so the user knows what to fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from monitor.alerts_config import AlertsConfig

DEFAULT_CONFIG = Path("config/monitor.toml")
DEFAULT_DATA_DIR = Path("data")


class ConfigError(Exception):
    pass


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StanceCues(Strict):
    favor: list[str] = Field(default_factory=list)
    against: list[str] = Field(default_factory=list)


class Target(Strict):
    """A person, organisation or topic we track.

    Matching rules:
    - ``aliases``: case-insensitive names that always count ("Sam Altman", "OpenAI").
    - ``exact_aliases``: case-sensitive names that always count ("Musk" but not "musk").
    - ``ambiguous_aliases``: case-sensitive names that count only when one of ``context`` also
      appears in the post ("Son" with "SoftBank"; "Stargate" with "OpenAI" or "data center").
    - ``handles``: account names, matched as @handle on any platform.
    - ``hashtags``: matched as #tag, case-insensitive; a camel-case or squashed hashtag of any
      alias matches too (#SamAltman, #samaltman).
    - ``exclude``: regular expressions; an alias occurrence that overlaps a match is dropped
      ("Stargate SG-1", "trump card").

    ``accounts`` are the target's own accounts, as ``platform:handle`` ("x:elonmusk",
    "hackernews:sama"): their posts are what the target itself says (``v_voices``). Not matching
    rules. Default: each of ``handles`` on X.
    """

    id: str
    name: str
    kind: Literal["person", "organisation", "topic"]
    aliases: list[str] = Field(default_factory=list)
    exact_aliases: list[str] = Field(default_factory=list)
    ambiguous_aliases: list[str] = Field(default_factory=list)
    context: list[str] = Field(default_factory=list)
    handles: list[str] = Field(default_factory=list)
    hashtags: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    accounts: list[str] | None = None
    stance: StanceCues = Field(default_factory=StanceCues)

    @field_validator("id")
    @classmethod
    def _id_is_simple(cls, value: str) -> str:
        if not value.replace("_", "").replace("-", "").isalnum():
            raise ValueError("use letters, digits, '-' and '_' only")
        return value

    @field_validator("accounts")
    @classmethod
    def _accounts_are_qualified(cls, value: list[str] | None) -> list[str] | None:
        for account in value or []:
            if not re.fullmatch(r"(?i)[a-z0-9_-]+:@?\S+", account):
                raise ValueError(f"'{account}' is not platform:handle (examples: 'x:elonmusk', 'hackernews:sama', "
                                 "'bluesky:name.bsky.social')")
        return value

    @field_validator("exclude")
    @classmethod
    def _excludes_are_regexes(cls, value: list[str]) -> list[str]:
        cls._check_regexes("exclude", value)
        return value

    @field_validator("stance")
    @classmethod
    def _stance_cues_are_regexes(cls, value: StanceCues) -> StanceCues:
        cls._check_regexes("stance.favor", value.favor)
        cls._check_regexes("stance.against", value.against)
        return value

    @staticmethod
    def _check_regexes(key: str, patterns: list[str]) -> None:
        """A bad pattern is a config error at load, naming the key and the item, not a traceback at scoring."""
        for index, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{key}[{index}] {pattern!r} is not a valid regular expression: {exc}") from exc

    def own_accounts(self) -> list[str]:
        """``platform:handle`` of the target's own accounts, lower-cased (handles are case-insensitive)."""
        accounts = self.accounts if self.accounts is not None else [f"x:{h}" for h in self.handles]
        return sorted({a.replace(":@", ":", 1).lower() for a in accounts})

    @model_validator(mode="after")
    def _has_some_alias(self) -> Target:
        if not (self.aliases or self.exact_aliases or self.ambiguous_aliases or self.handles or self.hashtags):
            raise ValueError(f"target '{self.id}' has no aliases, handles or hashtags, so it can never match")
        if self.ambiguous_aliases and not self.context:
            raise ValueError(f"target '{self.id}' has ambiguous_aliases but no context words to confirm them")
        return self


class ArchiveSpec(Strict):
    path: str
    format: str = "auto"


class Thresholds(Strict):
    positive: float = 0.05
    negative: float = -0.05


class AnalysisConfig(Strict):
    store_unmatched: bool = False  # keep posts that mention no target
    sentiment: Thresholds = Field(default_factory=Thresholds)
    stance: Thresholds = Field(default_factory=lambda: Thresholds(positive=0.1, negative=-0.1))
    long_text_chars: int = 280  # longer texts are scored per sentence and averaged
    languages: list[str] = Field(default_factory=lambda: ["en"])  # scored languages
    workers: int = 0  # scoring processes; 0 = one per CPU
    # Which analyzer scores: "learned" (our fine-tuned model, the most accurate) or "vader" (VADER and the
    # stance rules: exact, fast, the baseline).
    analyzer: Literal["learned", "vader"] = "learned"
    # Learned stance: favor or against only with at least this (calibrated) probability, else none.
    stance_threshold: float = Field(default=0.5, ge=0.0, le=1.0)


class SourceSettings(Strict):
    """The settings every live source takes. Each source subclasses it with its own keys and
    defaults (``sources/<platform>.py``); ``[sources.NAME]`` tables are validated against those
    models when the config loads (``Config.bind_sources``), so a typo fails at start, naming the key."""

    enabled: bool = True
    interval_minutes: float = Field(default=15, gt=0, le=7 * 24 * 60)
    max_pages: int = Field(default=5, ge=1)
    base_url: str | None = None
    queries: list[str] | None = None  # override queries built from aliases


class DaemonConfig(Strict):
    lock_timeout_seconds: float = 10.0  # how long a batch waits for a busy database before it spools
    inbox_interval_seconds: float = 60.0
    maintenance_interval_seconds: float = 300.0


class Config(Strict):
    contact: str = "https://github.com/discourse-monitor"
    targets: list[Target]
    archives: list[ArchiveSpec] = Field(default_factory=list)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    # Raw [sources.NAME] tables; each source reads them through its typed settings model
    # (``bind_sources`` checks them all at load time).
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _alert_targets_known(self) -> Config:
        unknown = sorted(set(self.alerts.targets) - {t.id for t in self.targets})
        if unknown:
            raise ValueError(f"[alerts.targets] names targets that are not configured: {', '.join(unknown)}")
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> Config:
        seen: set[str] = set()
        for target in self.targets:
            if target.id in seen:
                raise ValueError(f"target id '{target.id}' is used twice")
            seen.add(target.id)
        return self

    def target(self, target_id: str) -> Target:
        for target in self.targets:
            if target.id == target_id:
                return target
        known = ", ".join(t.id for t in self.targets)
        raise ConfigError(f"unknown target '{target_id}' (configured: {known})")

    @property
    def rules_version(self) -> str:
        """Changes whenever the matching rules change; stored with every mention."""
        payload = json.dumps([t.model_dump(exclude={"stance", "accounts"}) for t in self.targets], sort_keys=True)
        return "rules-" + hashlib.sha256(payload.encode()).hexdigest()[:12]

    def resolve(self, path: str) -> Path:
        """Paths in the config are relative to the directory the tool runs in, like the defaults."""
        return Path(os.path.expanduser(path))

    def bind_sources(self, models: Mapping[str, type[SourceSettings]]) -> None:
        """Validate every ``[sources.NAME]`` table against its source's settings model: an unknown
        source or key, or a bad value, is a ConfigError naming the file and the key."""
        where = str(self.path or "configuration")
        problems: list[str] = []
        for name, raw in self.sources.items():
            model = models.get(name)
            if model is None:
                problems.append(f"  sources.{name}: unknown source (known: {', '.join(sorted(models))})")
                continue
            try:
                model.model_validate(raw)
            except ValidationError as exc:
                problems += [f"  {_format_location(('sources', name, *err['loc']), {})}: {err['msg']}"
                             for err in exc.errors()]
        if problems:
            raise ConfigError("\n".join([f"{where}: invalid configuration:", *problems]))


def _format_location(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = raw
    for item in loc:
        if isinstance(item, int):
            label = ""
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict) and "id" in node[item]:
                label = f" (id={node[item]['id']!r})"
            parts[-1] = parts[-1] + f"[{item}]{label}" if parts else f"[{item}]"
        else:
            parts.append(str(item))
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "(top level)"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from exc


def _invalid(path: Path, exc: ValidationError, raw: dict[str, Any]) -> ConfigError:
    lines = [f"{path}: invalid configuration:"]
    for err in exc.errors():
        lines.append(f"  {_format_location(tuple(err['loc']), raw)}: {err['msg']}")
    return ConfigError("\n".join(lines))


def load_config(path: Path | str | None = None,
                source_models: Mapping[str, type[SourceSettings]] | None = None) -> Config:
    """The config at ``path``; with ``source_models`` (the registry's), its sources are checked too."""
    config_path = Path(path) if path else DEFAULT_CONFIG
    if not config_path.exists():
        raise ConfigError(
            f"config file {config_path} not found. Run from the project folder (it ships config/monitor.toml) "
            "or pass --config PATH."
        )
    raw = _read_toml(config_path)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(config_path, exc, raw) from exc
    config.path = config_path
    if source_models is not None:
        config.bind_sources(source_models)
    return config


class _TargetsFile(Strict):
    targets: list[Target]


def load_targets(path: Path | str) -> list[Target]:
    """The ``[[targets]]`` of a TOML file (e.g. config/examples/debate-topics.toml), validated as
    in the config."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"targets file {path} not found")
    raw = _read_toml(path)
    try:
        return _TargetsFile.model_validate(raw).targets
    except ValidationError as exc:
        raise _invalid(path, exc, raw) from exc
