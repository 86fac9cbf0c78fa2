"""Lint BPMN files: every problem of every file in one pass, as ``lienthong lint`` prints them.

:func:`lint_paths` checks files and folders (every ``*.bpmn`` below a folder) with the rules the
loader uses (:mod:`lienthong.bpmn.checks`), so a file lint passes without an error is a file
:func:`~lienthong.bpmn.procedures.load_procedure` loads. A project's configuration
(:class:`LintConfig`, a TOML file) turns warning rules off or makes them errors; the rules the
loader refuses a file for stay errors: a configuration cannot let through what the engine refuses.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from lienthong.bpmn.checks import check_document
from lienthong.bpmn.problems import ERROR, RULES, WARNING, Problem
from lienthong.bpmn.procedures import MAX_BPMN_BYTES, read_source
from lienthong.errors import InvalidData, ProcedureError
from lienthong.org import Organisation

#: The configuration file lint looks for in the working folder, and the other file whose
#: ``[lint]`` table it reads when that one is absent.
CONFIG_FILES = ("lienthong-lint.toml", "lienthong.toml")
_LEVELS = {"off": None, "warn": WARNING, "error": ERROR}


def _guess(word: str, choices: Iterable[str]) -> str:
    found = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"; did you mean {found[0]!r}?" if found else ""


@attrs.frozen
class LintConfig:
    """Per-project severities: rule name -> ``off``, ``warn`` or ``error``.

    Only rules that are warnings by default may be set to ``off`` or ``warn``; an error rule is
    one the engine refuses a file for, so lint keeps reporting it as an error.
    """

    rules: Mapping[str, str] = attrs.field(factory=dict)
    source: str = ""

    def __attrs_post_init__(self) -> None:
        where = f"{self.source}: " if self.source else ""
        for name, level in self.rules.items():
            if name not in RULES:
                raise InvalidData(f"{where}unknown lint rule {name!r}{_guess(name, RULES)}")
            if level not in _LEVELS:
                raise InvalidData(
                    f"{where}rule {name!r}: {level!r} is not off, warn or error"
                    f"{_guess(str(level), _LEVELS)}"
                )
            if RULES[name].severity == ERROR and level != "error":
                raise InvalidData(
                    f"{where}rule {name!r} cannot be set to {level!r}: the engine refuses a "
                    "file with this problem, so it stays an error"
                )

    @classmethod
    def from_file(cls, path: str | Path) -> LintConfig:
        """A TOML file: ``rules = {...}`` at its top, or in a ``[lint]`` table."""
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidData(f"{p}: no such lint configuration file") from None
        except tomllib.TOMLDecodeError as e:
            raise InvalidData(f"{p}: not valid TOML: {e}") from None
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise InvalidData(f"{p}: cannot read: {e}") from None
        table = raw.get("lint", raw if p.name != "lienthong.toml" else {})
        if not isinstance(table, dict):
            raise InvalidData(f"{p}: [lint] must be a table")
        unknown = [k for k in table if k != "rules"]
        if unknown:
            key = unknown[0]
            raise InvalidData(
                f"{p}: unknown lint setting {key!r}{_guess(key, ['rules'])} (lint reads rules = "
                '{rule-name = "off" | "warn" | "error"})'
            )
        rules = table.get("rules", {})
        if not isinstance(rules, dict):
            raise InvalidData(f"{p}: rules must be a table of rule name = off | warn | error")
        return cls(rules={str(k): v for k, v in rules.items()}, source=str(p))

    @classmethod
    def find(cls, folder: str | Path = ".") -> LintConfig:
        """The configuration of ``folder`` (:data:`CONFIG_FILES`), or the defaults."""
        for name in CONFIG_FILES:
            p = Path(folder) / name
            if p.is_file():
                return cls.from_file(p)
        return cls()

    def apply(self, problems: Iterable[Problem]) -> list[Problem]:
        out = []
        for p in problems:
            level = self.rules.get(p.rule)
            if level is None:
                out.append(p)
            elif (severity := _LEVELS[level]) is not None:
                out.append(attrs.evolve(p, severity=severity))
        return out


def lint_bytes(
    data: bytes,
    name: str,
    *,
    org: Organisation | None = None,
    config: LintConfig | None = None,
    restricted_scripts: bool = True,
) -> list[Problem]:
    """The problems of one BPMN file given as bytes, in document order."""
    checked = check_document(data, name, restricted_scripts=restricted_scripts, org=org)
    return (config or LintConfig()).apply(checked.problems)


def lint_file(
    path: str | Path,
    *,
    org: Organisation | None = None,
    config: LintConfig | None = None,
    restricted_scripts: bool = True,
    max_bytes: int = MAX_BPMN_BYTES,
) -> list[Problem]:
    """The problems of one BPMN file, in document order."""
    try:
        data, file = read_source(path, max_bytes=max_bytes)
    except ProcedureError as e:
        return [
            Problem(
                file=str(path),
                line=0,
                element="",
                name="",
                type="",
                severity=ERROR,
                rule="file-read",
                message=str(e).removeprefix(f"{path}: "),
                fix="check the file's name, permissions and size",
            )
        ]
    return lint_bytes(data, file, org=org, config=config, restricted_scripts=restricted_scripts)


def bpmn_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files ``paths`` name: a file as given, a folder as every ``*.bpmn`` below it, in name
    order."""
    out: list[Path] = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*.bpmn") if f.is_file()))
        else:
            out.append(p)
    return out


def lint_paths(
    paths: Iterable[str | Path],
    *,
    org: Organisation | None = None,
    config: LintConfig | None = None,
    restricted_scripts: bool = True,
) -> list[Problem]:
    """Every problem of every BPMN file that ``paths`` name (files, or folders searched for
    ``*.bpmn``), file by file in name order, each file's in document order."""
    out: list[Problem] = []
    for f in bpmn_files(paths):
        out.extend(lint_file(f, org=org, config=config, restricted_scripts=restricted_scripts))
    return out


# -- output ----------------------------------------------------------------------------------------
def as_json(problems: Iterable[Problem]) -> str:
    """A JSON list of objects: file, line, element, name, type, severity, rule, message, fix."""
    return json.dumps([p.as_dict() for p in problems], ensure_ascii=False, indent=2)


def as_text(problems: list[Problem], *, files: int) -> str:
    """bpmnlint's layout: each file, then ``line:element  severity  message  rule`` per problem
    with the fix below it, then the count."""
    lines: list[str] = []
    by_file: dict[str, list[Problem]] = {}
    for p in problems:
        by_file.setdefault(p.file, []).append(p)
    for file, found in by_file.items():
        lines += ["", file]
        spots = [f"{p.line}:{p.element}" if p.element else f"{p.line}" for p in found]
        width = max(len(s) for s in spots)
        for spot, p in zip(spots, found, strict=True):
            lines.append(f"  {spot:<{width}}  {p.severity:<7}  {p.message}  {p.rule}")
            if p.fix:
                lines.append(f"  {'':<{width}}  {'':<7}  fix: {p.fix}")
    n_err = sum(p.severity == ERROR for p in problems)
    n_warn = len(problems) - n_err
    if problems:
        lines += [
            "",
            f"✖ {_count(len(problems), 'problem')} ({_count(n_err, 'error')}, "
            f"{_count(n_warn, 'warning')}) in {len(by_file)} of {_count(files, 'file')}",
        ]
    else:
        lines.append(f"✔ {_count(files, 'file')}, no problems")
    return "\n".join(lines).lstrip("\n")


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
