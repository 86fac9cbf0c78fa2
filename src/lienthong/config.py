"""A deployment's one configuration file, ``lienthong.toml`` (docs/deploy.md, "The configuration").

Every ``lienthong`` command reads it: from ``--config FILE`` (or ``$LIENTHONG_CONFIG``), else
``lienthong.toml`` in the working folder, else none (every setting at its default). What is given
on the command line overrides it; secrets come from the environment, never from the file:
``LIENTHONG_DB`` (the database, over ``database``) and ``LIENTHONG_ANCHOR_KEY`` (the private key
that signs audit checkpoints, over ``[audit] key``). Relative paths in the file are relative to
the file's folder, so that a service started elsewhere finds the same files.

A key the file does not know is refused, naming the file and the key and the nearest known one
(``lienthong.toml: unknown key 'organization'; did you mean 'organisation'?``), as a value of the
wrong kind is: a misspelt setting silently left at its default is how a deployment runs with
what it did not choose. :data:`TEMPLATE` is the commented file ``lienthong init`` writes.

A program that runs its own Engine beside the services builds it from the same file:
``Engine(**Config.find().engine_options())``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from lienthong.errors import CalendarError, ConfigError, did_you_mean
from lienthong.legaltime.calendar import WorkingCalendar

#: The file looked for in the working folder.
FILE = "lienthong.toml"
#: Environment variables: the file, and the secrets that override it.
ENV_CONFIG = "LIENTHONG_CONFIG"
ENV_DB = "LIENTHONG_DB"
ENV_ANCHOR_KEY = "LIENTHONG_ANCHOR_KEY"
LOG_LEVELS = ("debug", "info", "warning", "error")

# What each key holds: "text", "path", "paths", "names", "number" (> 0), "count" (an integer
# >= 1), "seconds" (a table of name = number > 0), a tuple of the texts allowed, or a table.
_Kind = Any
SCHEMA: dict[str, _Kind] = {
    "database": "path",
    "organisation": "path",
    "procedures": "path",
    "plugins": "names",
    "log_level": LOG_LEVELS,
    "scripts": {"mode": ("restricted", "python"), "time_budget": "number"},
    "calendar": {"overlays": "paths"},
    "store": {"durability": ("normal", "full"), "busy_timeout": "number"},
    "tick": {"every": "number"},
    "work": {"poll": "number", "limit": "count"},
    "services": {
        "mode": ("inline", "worker"),
        "timeout": "number",
        "timeouts": "seconds",
        "attempts": "count",
        "backoff": "number",
    },
    "audit": {"anchors": "path", "key": "path"},
    # Read by ``lienthong lint`` itself (lienthong.bpmn.lint.LintConfig), which checks its keys.
    "lint": "table",
}


@attrs.frozen
class Config:
    """The settings of one file (or the defaults: ``path`` is ``None``), paths resolved."""

    path: Path | None = None
    values: Mapping[str, Any] = attrs.field(factory=dict)

    # -- reading -------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Config:
        """Read and check one file; a :class:`~lienthong.errors.ConfigError` names what is
        wrong."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{p}: no such configuration file") from None
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise ConfigError(f"{p}: cannot read: {e}") from None
        return cls.parse(text, p)

    @classmethod
    def parse(cls, text: str, path: str | os.PathLike[str] = FILE) -> Config:
        """The settings of ``text``, as if read from ``path`` (errors name it; relative paths
        are relative to its folder)."""
        p = Path(path)
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: not valid TOML: {e}") from None
        return cls(p, _checked(raw, SCHEMA, p, p.parent, ""))

    @classmethod
    def find(cls, given: str | os.PathLike[str] | None = None, folder: str | Path = ".") -> Config:
        """``given``, else ``$LIENTHONG_CONFIG``, else ``lienthong.toml`` in ``folder`` if there
        is one, else the defaults."""
        name = given if given is not None else os.environ.get(ENV_CONFIG) or None
        if name is not None:
            return cls.load(name)
        p = Path(folder) / FILE
        return cls.load(p) if p.is_file() else cls()

    # -- the settings --------------------------------------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        """A setting by its dotted name (``"work.limit"``), or ``default`` if the file has none."""
        node: Any = self.values
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def where(self, key: str) -> str:
        """How an error names a setting: ``lienthong.toml: [work] limit``."""
        table, _, name = key.rpartition(".")
        shown = f"[{table}] {name}" if table else name
        return f"{self.path}: {shown}" if self.path else shown

    @property
    def database(self) -> str | None:
        """``$LIENTHONG_DB``, else ``database``, else ``None``."""
        env = os.environ.get(ENV_DB)
        return env if env else self.get("database")

    @property
    def anchor_key(self) -> str | None:
        """``$LIENTHONG_ANCHOR_KEY``, else ``[audit] key``, else ``None``."""
        return os.environ.get(ENV_ANCHOR_KEY) or self.get("audit.key")

    @property
    def plugins(self) -> tuple[str, ...] | None:
        """The plugins the deployment runs, or ``None`` when the file lists none."""
        names = self.get("plugins")
        return None if names is None else tuple(names)

    def calendar(self) -> WorkingCalendar | None:
        """The default calendar with ``[calendar] overlays`` on top, or ``None`` if none."""
        overlays = self.get("calendar.overlays")
        if not overlays:
            return None
        try:
            return WorkingCalendar.from_files(*overlays)
        except CalendarError as e:
            raise ConfigError(f"{self.where('calendar.overlays')}: {e}") from None

    def engine_options(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments of :class:`~lienthong.engine.Engine` for what the file sets
        (``db``, ``org``, ``enabled_plugins``, the calendar, scripts, store and services
        settings), then ``overrides``; what the file does not set is left to the Engine's
        defaults."""
        out: dict[str, Any] = {}
        pairs = (
            ("db", self.database),
            ("org", self.get("organisation")),
            ("enabled_plugins", self.plugins),
            ("calendar", self.calendar()),
            ("scripts", self.get("scripts.mode")),
            ("script_time_budget", self.get("scripts.time_budget")),
            ("durability", self.get("store.durability")),
            ("busy_timeout", self.get("store.busy_timeout")),
            ("services", self.get("services.mode")),
            ("service_timeout", self.get("services.timeout")),
            ("service_timeouts", self.get("services.timeouts")),
            ("service_attempts", self.get("services.attempts")),
            ("service_backoff", self.get("services.backoff")),
        )
        out = {k: v for k, v in pairs if v is not None}
        out.update(overrides)
        return out


def _checked(raw: Mapping[str, Any], schema: Mapping[str, _Kind], p: Path, base: Path,
             table: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{p}: [{table}] {key}" if table else f"{p}: {key}"
        if key not in schema:
            inside = f" in [{table}]" if table else ""
            raise ConfigError(
                f"{p}: unknown key {key!r}{inside}{did_you_mean(key, schema)} (known: "
                f"{', '.join(schema)})"
            )
        kind = schema[key]
        if isinstance(kind, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: expected a table ([{key}]), got {value!r}")
            out[key] = _checked(value, kind, p, base, key)
        else:
            out[key] = _value(value, kind, where, base)
    return out


def _value(value: Any, kind: _Kind, where: str, base: Path) -> Any:
    if isinstance(kind, tuple):
        if value not in kind:
            raise ConfigError(
                f"{where}: {value!r} is not one of {', '.join(kind)}"
                f"{did_you_mean(str(value), kind)}"
            )
        return value
    if kind == "table":
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return value
    if kind == "path":
        return _path(value, where, base)
    if kind in ("paths", "names"):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{where}: expected a list of texts, got {value!r}")
        return [_path(v, where, base) for v in value] if kind == "paths" else list(value)
    if kind == "seconds":
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table of name = seconds, got {value!r}")
        return {str(k): _number(v, f"{where}.{k}") for k, v in value.items()}
    if kind == "count":
        if type(value) is not int or value < 1:
            raise ConfigError(f"{where}: expected a whole number of at least 1, got {value!r}")
        return value
    return _number(value, where)


def _number(value: Any, where: str) -> float:
    if type(value) not in (int, float) or not value > 0 or value == float("inf"):
        raise ConfigError(f"{where}: expected a number above 0, got {value!r}")
    return float(value)


def _path(value: Any, where: str, base: Path) -> str:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ConfigError(f"{where}: expected a path (text), got {value!r}")
    if value.startswith(("postgresql://", "postgres://")):  # an address, not a file: as given
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else base / p)


#: What ``lienthong init`` writes: every key, commented, at its default.
TEMPLATE = """\
# lienthong.toml: the configuration every `lienthong` command of this deployment reads
# (docs/deploy.md). Relative paths are relative to this file's folder. Options given on the
# command line override what is here; secrets come from the environment, not from this file:
# LIENTHONG_DB (the database) and LIENTHONG_ANCHOR_KEY (the key that signs audit checkpoints).
# A key this file does not know is refused, with the nearest known one.

# The SQLite database file (cơ sở dữ liệu).
database = "lienthong.db"

# The organisation file (tổ chức: đơn vị, cán bộ; docs/organisation.md). Stored in the database
# by `lienthong db upgrade`; commands without it use the one stored there.
# organisation = "organisation.toml"

# The folder of the procedures' BPMN files (quy trình nội bộ) that `lienthong db upgrade` loads.
# procedures = "procedures"

# The plugins this deployment runs, by entry-point name (`lienthong plugins` lists the installed
# ones). Installed plugins not listed here are not loaded; with no list at all, every installed
# plugin loads except the examples made for the demo organisation.
plugins = []

# Log lines (one per action, the dossier code first) go to standard error at this level:
# debug, info, warning or error.
log_level = "info"

[scripts]
# BPMN scripts and conditions: "restricted" (RestrictedPython, the default) or "python"
# (full Python: an explicit choice of the deployment).
mode = "restricted"
# Wall-clock seconds one script or condition may run.
time_budget = 1.0

[calendar]
# Calendar overlays (lịch làm việc: the province's own days off and make-up days; the format of
# docs/calendar.md), applied in order on top of the national calendar.
overlays = []

[store]
# "normal" (a commit survives a crash of the process) or "full" (also a power cut).
durability = "normal"
# Seconds a command waits for the write lock another process holds.
busy_timeout = 5.0

[tick]
# Seconds between two ticks of `lienthong tick --every` when the command line gives none.
every = 60

[work]
# `lienthong work`: seconds between two looks at the queue, and steps taken on per pass.
poll = 5.0
limit = 100

[services]
# Service steps (calls to other agencies' systems): "inline" (run right after the command that
# opens them) or "worker" (left to `lienthong work`).
mode = "inline"
# Seconds one operation may take; per operation in [services.timeouts].
timeout = 30.0
# Attempts before a failed step waits for a person, and seconds before the first retry.
attempts = 8
backoff = 60.0

[services.timeouts]
# "police.record_residence" = 60

# [lint]
# `lienthong lint` reads its rules here (docs/designers.md): a warning rule "off" or "warn", or
# made an "error".
# rules = { "gateway-default" = "error", "camunda-ignored" = "off" }

[audit]
# Where `lienthong audit anchor` appends its signed checkpoints (docs/cli.md).
# anchors = "anchors.jsonl"
# The private key is a secret: give its path in LIENTHONG_ANCHOR_KEY, or here.
# key = "/etc/lienthong/audit-key.pem"
"""
