"""lienthong's exceptions.

Every error a caller can provoke with bad input is a :class:`LienthongError` whose message names the
thing that was wrong and where (file, element id, field, dossier code, step id). Nothing stored is
changed when one is raised from a command.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LienthongError(Exception):
    """Base class of every error lienthong raises on purpose."""


class ProcedureError(LienthongError):
    """A BPMN file or its lienthong properties are invalid (file, element id, line)."""

    #: The problems that refused the file (``lienthong.bpmn.problems.Problem`` records, every
    #: error ``lienthong lint`` reports for it), when it was read; empty otherwise.
    problems: tuple[object, ...] = ()


class UnknownProcedure(LienthongError):
    """No procedure with that code (or version hash) is loaded."""


class OrganisationError(LienthongError):
    """The organisation file is invalid, or a unit or officer is unknown."""


class OrganisationNotStored(OrganisationError):
    """An Engine was opened without an organisation on a database that has none stored (one
    written before lienthong kept it, or a new one): pass the organisation."""


class CalendarError(LienthongError):
    """A calendar overlay file is invalid, or a date or duration is out of range."""


class DossierNotFound(LienthongError):
    """No dossier with that code."""


class StepNotFound(LienthongError):
    """No step with that id in that dossier."""


class DossierClosed(LienthongError):
    """The dossier is finished, returned, withdrawn or stopped: no more commands change it."""


class StepClosed(LienthongError):
    """The step was already completed or cancelled."""


class NotAllowed(LienthongError):
    """The officer or unit may not act on that step or dossier."""


class InvalidData(LienthongError):
    """Data given to a command is malformed or incomplete (names the field)."""


class ScriptError(LienthongError):
    """A BPMN script or expression failed or tried something the restricted engine forbids."""


class MigrationRefused(LienthongError):
    """A dossier cannot move to that version of its procedure: the version is its own, or of
    another procedure, or a step it ran or has open has no counterpart there (names the steps)."""


class SlaError(LienthongError):
    """An SLA rule refused the command (second apology, supplement outside its window, ...)."""


class PluginError(LienthongError):
    """A plugin raised inside a hook; names the plugin, the hook and the dossier."""


class AuditError(LienthongError):
    """The audit chain is broken; names the first broken row."""


class FormError(LienthongError):
    """A form of Circular 03/2025 (Mẫu 01–07) cannot be made: an unknown form number, or a
    dossier, period or unit it cannot be made for. Names the form and the dossier."""


class FormNotApplicable(FormError):
    """The dossier lacks what the form records: Mẫu 02 for a dossier never asked for a
    supplement, Mẫu 03 for one not refused, Mẫu 04 with no apology, Mẫu 05 with no withdrawal
    or stop, Mẫu 01 for one not received (yet). Names the form, the dossier and its status."""


class StoreError(LienthongError):
    """The database failed under a command: the file is not a lienthong database, is locked,
    corrupt or unreadable, or the Engine was closed. Names the command and the file; the SQLite
    error is its ``__cause__``."""


class InternalError(LienthongError):
    """An error lienthong did not expect: a bug to report. Names the command; the original
    exception, with its traceback, is its ``__cause__``."""


class StoreBusy(StoreError):
    """Another connection held the database's write lock for longer than the command would wait
    (``busy_timeout``); names the file and how long it waited. Nothing was stored: run it again."""


class TableError(InvalidData):
    """A table of steps (a quy trình nội bộ as CSV or TOML) cannot become a BPMN file; the
    message names the file, and each problem its row (or ``[[step]]``) and column."""

    #: Each problem as ``(row, column, message)``: row 0 for the header rows or the whole table,
    #: column ``""`` when the problem is not in one column.
    problems: tuple[tuple[int, str, str], ...] = ()


class ConfigError(InvalidData):
    """A configuration file (``lienthong.toml``) that cannot be used: the message names the file
    and the key (``[work] limit``), and for a key it does not know, the nearest one it does."""


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``"; did you mean 'parent'?"`` for the known name nearest ``word`` (difflib), or ``""``:
    the end of the message that refuses an unknown key."""
    found = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {found[0]!r}?" if found else ""
