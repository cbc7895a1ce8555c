"""Configuration: targets, archives, sources and thresholds, from a TOML file validated by pydantic.

Errors name the file and the key path (``targets[2].aliases``) so the user knows what to fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from monitor.alerts_config import AlertsConfig

DEFAULT_CONFIG = Path("config/monitor.toml")  # in the folder the tool runs in (a clone ships one)
DEFAULT_DATA_DIR = Path("data")
# The config shipped in the package: the one used when no other is found, and what `monitor init` writes.
# config/monitor.toml in the repository is the same file (tests/test_first_hour.py checks it).
PACKAGED_CONFIG = Path(__file__).with_name("default_config.toml")
PACKAGE_DIR = Path(__file__).parent
PACKAGE_PREFIX = "package:"  # an archive path inside the installed package (Config.resolve)
CONFIG_ENV = "MONITOR_CONFIG"
APP_DIR_NAME = "discourse-monitor"
# The contact the packaged config ships with: a placeholder the user should replace with their own
# e-mail or URL (it goes into every request's User-Agent, so site operators can reach who runs this).
PLACEHOLDER_CONTACT = "discourse-monitor (https://github.com/discourse-monitor/discourse-monitor)"

# ISO 639-1: the two-letter language codes posts carry in their `lang` field.
ISO_639_1 = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el en eo es
et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki
kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no
nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te
tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
""".split())


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
    positive: float = Field(default=0.05, ge=-1.0, le=1.0)
    negative: float = Field(default=-0.05, ge=-1.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.negative > self.positive:
            raise ValueError(f"negative ({self.negative}) must not be above positive ({self.positive})")
        return self


class AnalysisConfig(Strict):
    store_unmatched: bool = False  # keep posts that mention no target
    sentiment: Thresholds = Field(default_factory=Thresholds)
    stance: Thresholds = Field(default_factory=lambda: Thresholds(positive=0.1, negative=-0.1))
    long_text_chars: int = Field(default=280, ge=1)  # longer texts are scored per sentence and averaged
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)  # scored languages (ISO 639-1)
    workers: int = Field(default=0, ge=0)  # 0: one per CPU (vader), one (learned: the model uses every core)
    # Which analyzer scores: "learned" (our fine-tuned model, the most accurate) or "vader" (VADER and the
    # stance rules: exact, fast, the baseline).
    analyzer: Literal["learned", "vader"] = "learned"
    # Learned stance: favor or against only with at least this (calibrated) probability, else none
    # (0: the most probable class wins, as on the dev sets).
    stance_threshold: float = Field(default=0.0, ge=0.0, le=1.0)
    # Platforms whose posts are reporting (news feeds): a news item about a target reports what
    # happened, it takes no side, so its stance is stored as none (scorer "reporting"; the
    # analyzer's score is kept). [] scores their stance like any post's.
    reporting_platforms: list[str] = Field(default_factory=lambda: ["news"])

    @field_validator("languages")
    @classmethod
    def _languages_are_iso_codes(cls, value: list[str]) -> list[str]:
        codes = [code.strip().lower() for code in value]
        unknown = [code for code in codes if code not in ISO_639_1]
        if unknown:
            raise ValueError(f"{', '.join(repr(c) for c in unknown)}: not ISO 639-1 language codes "
                             "(two letters, e.g. 'en', 'de', 'fr')")
        return codes


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
    lock_timeout_seconds: float = Field(default=10.0, ge=0)  # how long a batch waits for a busy database to spool
    inbox_interval_seconds: float = Field(default=60.0, gt=0)
    maintenance_interval_seconds: float = Field(default=300.0, gt=0)


class DistributedConfig(Strict):
    # Where `monitor import --lake` runs when --cluster is not given: a Dask scheduler's address
    # (tcp://host:8786) or local:N (N worker processes on this machine). See docs/LAKE.md.
    scheduler: str = Field(default="local:2", pattern=r"^((tcp|tls|ws|wss|ucx)://\S+|local:[1-9]\d*)$")


class Config(Strict):
    contact: str = Field(default=PLACEHOLDER_CONTACT, min_length=3)
    targets: list[Target]
    archives: list[ArchiveSpec] = Field(default_factory=list)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    # Raw [sources.NAME] tables; each source reads them through its typed settings model
    # (``bind_sources`` checks them all at load time).
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)
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
        """Paths in the config are relative to the directory the tool runs in, like the defaults;
        ``package:NAME`` is NAME in the installed package (the default config's ``package:sample``, so
        its sample is found wherever the tool runs)."""
        if path.startswith(PACKAGE_PREFIX):
            return PACKAGE_DIR / path.removeprefix(PACKAGE_PREFIX)
        return Path(os.path.expanduser(path))

    def check_archive_formats(self, formats: Collection[str]) -> None:
        """Each ``[[archives]]`` format is 'auto' or a registered reader's name: a ConfigError naming
        the file and the key otherwise (not a failure at the first run)."""
        known = ", ".join(["auto", *sorted(formats)])
        problems = [f"  archives[{i}].format: unknown format '{spec.format}' (known: {known})"
                    for i, spec in enumerate(self.archives) if spec.format != "auto" and spec.format not in formats]
        if problems:
            raise ConfigError("\n".join([f"{self.path or 'configuration'}: invalid configuration:", *problems]))

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


def user_config_path() -> Path:
    """The per-user config file: $XDG_CONFIG_HOME/discourse-monitor/monitor.toml (~/.config/... by default)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / APP_DIR_NAME / "monitor.toml"


def find_config(explicit: Path | str | None = None) -> Path:
    """The config to use: ``--config``, else $MONITOR_CONFIG, else ./config/monitor.toml, else the user
    config dir, else the packaged default. A file named explicitly (option or variable) must exist:
    falling back silently would run with other targets than the user asked for."""
    for given, origin in ((explicit, "--config"), (os.environ.get(CONFIG_ENV), CONFIG_ENV)):
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                raise ConfigError(f"config file {path} (from {origin}) not found. Create one with "
                                  "`monitor init`, or leave it out to use the default.")
            return path
    for candidate in (DEFAULT_CONFIG, user_config_path()):
        if candidate.is_file():
            return candidate
    return PACKAGED_CONFIG


def is_placeholder_contact(contact: str) -> bool:
    """True while the User-Agent contact is still the shipped placeholder (not the user's)."""
    return contact.strip() in {PLACEHOLDER_CONTACT, "https://github.com/discourse-monitor"}


def valid_contact(contact: str) -> bool:
    """An e-mail address or an http(s) URL: something a site operator can reach."""
    contact = contact.strip()
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", contact) or re.fullmatch(r"https?://\S+\.\S+", contact))


def initial_config_text(contact: str) -> str:
    """The packaged config, commented, with the user's contact and no sample archive (a new folder has
    none, and a missing archive would be reported on every run)."""
    text = PACKAGED_CONFIG.read_text(encoding="utf-8")
    text, found = re.subn(r"(?m)^contact = .*$", lambda _: f"contact = {json.dumps(contact.strip())}", text, count=1)
    if not found:
        raise ConfigError(f"{PACKAGED_CONFIG}: has no contact line to fill in")
    return re.sub(r"(?m)^\[\[archives\]\]\npath = .*\nformat = .*$",
                  '# [[archives]]\n# path = "data/archives"   # a file or folder of dumps to import on each run\n'
                  '# format = "auto"', text, count=1)


def load_config(path: Path | str | None = None,
                source_models: Mapping[str, type[SourceSettings]] | None = None) -> Config:
    """The config at ``path`` (or the one ``find_config`` finds); with ``source_models`` (the
    registry's), its sources are checked too."""
    config_path = find_config(path)
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
