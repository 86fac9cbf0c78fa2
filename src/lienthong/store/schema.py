"""The schema, changed only through :data:`MIGRATIONS`.

Tables: ``procedures`` (one row per BPMN version), ``dossiers``, ``dossier_states`` (each
dossier's SpiffWorkflow state, never the process definition, kept apart so the dossier row stays
small), ``steps`` (open and closed, indexed by unit, officer and due instant), ``daily_sequence``
(the NNNN of dossier codes), ``audit`` (append-only, hash-chained; triggers refuse UPDATE and
DELETE; since migration 010 each row also carries a digest of its dossier's rows),
``organisations`` (each organisation an engine ran with, by version).

Migrations are applied in order and recorded in ``_migrations``; each migration's docstring says
what it changed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import sqlite_utils

from lienthong.errors import LienthongError

Migration = Callable[[sqlite_utils.Database], None]


def _run_script(db: sqlite_utils.Database, sql: str) -> None:
    """Run statements one by one: ``executescript`` would COMMIT the migration's transaction."""
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            db.execute(buf)
            buf = ""
    if buf.strip():
        raise LienthongError(f"incomplete SQL statement in migration: {buf.strip()[:60]}")


def _m001_initial(db: sqlite_utils.Database) -> None:
    """Procedures, dossiers, steps, daily sequences and the audit chain."""
    _run_script(
        db,
        """
        CREATE TABLE procedures (
            version TEXT PRIMARY KEY, code TEXT NOT NULL, name TEXT NOT NULL,
            process_id TEXT NOT NULL, deadline TEXT NOT NULL, source TEXT NOT NULL,
            bpmn BLOB NOT NULL, loaded_at TEXT NOT NULL
        );
        CREATE INDEX procedures_code ON procedures(code, loaded_at);
        CREATE TABLE dossiers (
            code TEXT PRIMARY KEY, procedure_code TEXT NOT NULL, procedure_version TEXT NOT NULL
                REFERENCES procedures(version),
            receiving_unit TEXT NOT NULL, channel INTEGER NOT NULL, status INTEGER NOT NULL,
            applicant TEXT NOT NULL, documents TEXT NOT NULL, routing TEXT NOT NULL,
            arrived_at TEXT NOT NULL, received_at TEXT, clock_start TEXT, appointment TEXT,
            original_appointment TEXT, resolved_at TEXT, closed_at TEXT, result_class TEXT,
            note TEXT, fee INTEGER, supplements INTEGER NOT NULL DEFAULT 0,
            supplement_requested_at TEXT, supplement_close_at TEXT,
            apology_at TEXT, apology_fired INTEGER NOT NULL DEFAULT 0, apology_issued_at TEXT,
            paused_since TEXT, paused_minutes INTEGER NOT NULL DEFAULT 0,
            kpi_waiting_minutes INTEGER NOT NULL DEFAULT 0, kpi_class TEXT,
            state_rev INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE dossier_states (
            code TEXT PRIMARY KEY REFERENCES dossiers(code), rev INTEGER NOT NULL,
            state BLOB NOT NULL
        );
        CREATE INDEX dossiers_apology ON dossiers(apology_at)
            WHERE closed_at IS NULL AND apology_fired = 0;
        CREATE INDEX dossiers_supplement_close ON dossiers(supplement_close_at)
            WHERE closed_at IS NULL;
        CREATE INDEX dossiers_status ON dossiers(status);
        CREATE INDEX dossiers_appointment ON dossiers(appointment) WHERE closed_at IS NULL;
        CREATE TABLE steps (
            id INTEGER PRIMARY KEY, dossier TEXT NOT NULL REFERENCES dossiers(code),
            task_id TEXT NOT NULL, spec_id TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
            step_kind TEXT NOT NULL, role TEXT NOT NULL, unit TEXT NOT NULL, assignee TEXT,
            status TEXT NOT NULL, opened_at TEXT NOT NULL, claimed_at TEXT, closed_at TEXT,
            closed_by TEXT, share_minutes INTEGER NOT NULL, due_at TEXT, result_class TEXT,
            data TEXT, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
            warn_at TEXT, overdue_fired INTEGER NOT NULL DEFAULT 0,
            escalation_level INTEGER NOT NULL DEFAULT 0, escalated_to TEXT,
            next_escalation_at TEXT
        );
        CREATE INDEX steps_warn_open ON steps(warn_at) WHERE closed_at IS NULL;
        CREATE INDEX steps_escalation_open ON steps(next_escalation_at) WHERE closed_at IS NULL;
        CREATE INDEX steps_escalated_to ON steps(escalated_to) WHERE closed_at IS NULL;
        CREATE INDEX steps_unit_open ON steps(unit, status) WHERE closed_at IS NULL;
        CREATE INDEX steps_assignee_open ON steps(assignee) WHERE closed_at IS NULL;
        CREATE INDEX steps_due_open ON steps(due_at) WHERE closed_at IS NULL;
        CREATE INDEX steps_dossier ON steps(dossier);
        CREATE TABLE daily_sequence (
            unit TEXT NOT NULL, day TEXT NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (unit, day)
        );
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY, dossier TEXT, event TEXT NOT NULL, at TEXT NOT NULL,
            from_unit TEXT, from_officer TEXT, to_unit TEXT, to_officer TEXT, step_id INTEGER,
            share_minutes INTEGER, due_at TEXT, result_class TEXT, note TEXT, data TEXT,
            prev_hash TEXT NOT NULL, hash TEXT NOT NULL
        );
        CREATE INDEX audit_dossier ON audit(dossier, id);
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
    )


def _m002_lean_step_indexes(db: sqlite_utils.Database) -> None:
    """Fewer index pages written per command.

    Every index a row enters is one more page in the commit's WAL frames, and the frames are
    most of what a commit costs. The partial indexes on open steps now leave out the rows whose
    key is NULL, which no query looks up (``x = ?`` and ``x <= ?`` imply ``x IS NOT NULL``,
    so SQLite still uses them): a step enters the assignee and escalated-to indexes only when it
    is claimed or escalated, and a dossier enters the supplement-expiry index only while a
    supplement is awaited. ``steps_due_open`` served no query and is dropped; the unit queue's
    index is ordered by due instant, as the queue is read.
    """
    _run_script(
        db,
        """
        DROP INDEX steps_due_open;
        DROP INDEX steps_warn_open;
        DROP INDEX steps_escalation_open;
        DROP INDEX steps_escalated_to;
        DROP INDEX steps_assignee_open;
        DROP INDEX steps_unit_open;
        CREATE INDEX steps_warn_open ON steps(warn_at)
            WHERE closed_at IS NULL AND warn_at IS NOT NULL;
        CREATE INDEX steps_escalation_open ON steps(next_escalation_at)
            WHERE closed_at IS NULL AND next_escalation_at IS NOT NULL;
        CREATE INDEX steps_escalated_to ON steps(escalated_to)
            WHERE closed_at IS NULL AND escalated_to IS NOT NULL;
        CREATE INDEX steps_assignee_open ON steps(assignee)
            WHERE closed_at IS NULL AND assignee IS NOT NULL;
        CREATE INDEX steps_unit_open ON steps(unit, due_at) WHERE closed_at IS NULL;
        DROP INDEX dossiers_supplement_close;
        CREATE INDEX dossiers_supplement_close ON dossiers(supplement_close_at)
            WHERE closed_at IS NULL AND supplement_close_at IS NOT NULL;
        """,
    )


def _m003_service_jobs(db: sqlite_utils.Database) -> None:
    """Service steps run outside the command that opened them, by the engine right after it or
    by a worker (``lienthong work``): ``steps.next_attempt_at`` is when an open service step is
    due to run (its first attempt or the next retry; NULL once no automatic attempt is left),
    ``lease_until`` and ``leased_by`` who runs it and until when (a dead worker's lease expires).
    The partial index holds only the open service steps, so a worker's poll reads none of the
    other steps. The open service steps of an older store fall due at once.
    """
    _run_script(
        db,
        """
        ALTER TABLE steps ADD COLUMN next_attempt_at TEXT;
        ALTER TABLE steps ADD COLUMN lease_until TEXT;
        ALTER TABLE steps ADD COLUMN leased_by TEXT;
        CREATE INDEX steps_service_due ON steps(next_attempt_at)
            WHERE closed_at IS NULL AND next_attempt_at IS NOT NULL;
        UPDATE steps SET next_attempt_at = opened_at WHERE kind = 'service' AND closed_at IS NULL;
        """,
    )


def _m005_accountability_facts(db: sqlite_utils.Database) -> None:
    """Facts about lateness that no later command rewrites (the accountability issue).

    A supplement request restarts a step's clock and resets its escalation level, so lateness
    cannot be read back from ``due_at`` and ``escalation_level``; these columns keep it:

    - ``steps.first_overdue_at``: the instant the step first went overdue (the due instant it
      missed); set once, never cleared.
    - ``steps.late_minutes``: working minutes past its due instant when the step closed (0 when
      it closed in time; NULL while open or for a step with no due instant).
    - ``steps.arrived_late``: 1 when the step opened already at or past its due instant (a
      hand-back that reached the unit late), so the unit is not charged for lateness it received.
    - ``dossiers.late_minutes``: working minutes past the first appointment (the one no apology
      moved) when the dossier was resolved; 0 in time, NULL while unresolved.
    - ``dossiers.apology_required_at``: the legal latest instant for the apology (one working day
      before the appointment), kept after the apology is issued; ``apology_unit`` and
      ``apology_by``: who issued it; ``apology_late``: 1 when it was issued after that instant.
    - ``dossier_faults``: for a dossier that went late, each unit whose own steps made it late
      and by how many working minutes.
    """
    _run_script(
        db,
        """
        ALTER TABLE steps ADD COLUMN first_overdue_at TEXT;
        ALTER TABLE steps ADD COLUMN late_minutes INTEGER;
        ALTER TABLE steps ADD COLUMN arrived_late INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE dossiers ADD COLUMN late_minutes INTEGER;
        ALTER TABLE dossiers ADD COLUMN apology_required_at TEXT;
        ALTER TABLE dossiers ADD COLUMN apology_unit TEXT;
        ALTER TABLE dossiers ADD COLUMN apology_by TEXT;
        ALTER TABLE dossiers ADD COLUMN apology_late INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE dossier_faults (
            dossier TEXT NOT NULL REFERENCES dossiers(code), unit TEXT NOT NULL,
            minutes INTEGER NOT NULL, PRIMARY KEY (dossier, unit)
        ) WITHOUT ROWID;
        """,
    )


def _m006_organisations(db: sqlite_utils.Database) -> None:
    """The organisations engines ran with (tổ chức: đơn vị, cán bộ), each version once.

    ``organisations``: one row per version (the SHA-256 of the organisation's canonical JSON,
    :func:`lienthong.org.data_version`), ``data`` that JSON, ``loaded_at`` when an engine last
    made it the current one, ``seq`` the order in which versions became current (the highest is
    the current one; an instant would not do, since clocks are injected and one engine's may be
    behind another's). A store written before this migration has none until an engine opens it
    with an organisation.

    ``organisation_names``: every unit (``kind`` 'unit', ``key`` its code) and officer ('officer',
    their id, ``unit`` theirs) any stored version lists, with the name the version made current
    most recently gives (``seq``): reports and the control sheet name units and officers from it,
    so that an officer who has left still shows under the name they had, in one read that grows
    with the people, not with the versions.
    """
    _run_script(
        db,
        """
        CREATE TABLE organisations (
            version TEXT PRIMARY KEY, data TEXT NOT NULL, loaded_at TEXT NOT NULL,
            seq INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX organisations_seq ON organisations(seq);
        CREATE TABLE organisation_names (
            kind TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, unit TEXT,
            seq INTEGER NOT NULL, PRIMARY KEY (kind, key)
        ) WITHOUT ROWID;
        """,
    )


def _m007_report_indexes(db: sqlite_utils.Database) -> None:
    """Indexes the reports (:mod:`lienthong.reports`) read through, so that a report's cost
    follows the rows in its period, not the whole table.

    Most figures are counts of one kind of row in a range of instants, so most indexes are
    ordered by what is counted, then by the instant: each figure is then a count of one stretch
    of one index (no row is read, no expression evaluated per row). The few rows whose values
    are summed (late steps, late dossiers, those closed unresolved) have small indexes of their
    own that carry those values. Every index is partial: a step enters the step indexes once,
    when it is completed; a dossier enters ``dossiers_received`` and ``dossiers_open`` when it is
    received, the others when it ends; the commands that move open work along write none.

    - ``steps_officer_finished``: finished user steps by officer, unit, result class, instant;
    - ``steps_unit_finished``: finished steps by unit, lane role, result class, instant;
    - ``steps_officer_late`` and ``steps_unit_late``: the finished steps that were late or went
      overdue (about one in ten), by officer and unit (unit and lane role), then instant, with
      their late minutes and arrival;
    - ``audit_escalated`` and ``audit_escalated_officer``: escalation rows by the unit (and
      officer) that received them, then instant;
    - ``audit_supplement_requested``: supplement request rows by instant;
    - ``dossiers_received``: by channel and the instant the clock started;
    - ``dossiers_resolved`` and ``dossiers_resolved_kpi``: resolved dossiers by result class
      on each clock and the instant resolved; ``dossiers_late``: those resolved late;
    - ``dossiers_closed``: those that ended unresolved (withdrawn, stopped, refused);
    - ``dossiers_open``: those still being worked; ``dossiers_returned_twice``: those sent back
      for a supplement two or more times.
    """
    _run_script(
        db,
        """
        CREATE INDEX steps_officer_finished ON steps(closed_by, unit, result_class, closed_at)
            WHERE status = 'done' AND kind = 'user';
        CREATE INDEX steps_unit_finished ON steps(unit, role, result_class, closed_at)
            WHERE status = 'done';
        CREATE INDEX steps_officer_late ON steps(
            closed_by, unit, closed_at, late_minutes, arrived_late, first_overdue_at,
            result_class
        ) WHERE status = 'done' AND kind = 'user'
            AND (late_minutes > 0 OR first_overdue_at IS NOT NULL);
        CREATE INDEX steps_unit_late ON steps(
            unit, role, closed_at, late_minutes, arrived_late, first_overdue_at, result_class
        ) WHERE status = 'done' AND (late_minutes > 0 OR first_overdue_at IS NOT NULL);
        CREATE INDEX audit_escalated ON audit(to_unit, at, step_id)
            WHERE event = 'escalated';
        CREATE INDEX audit_escalated_officer ON audit(to_officer, to_unit, at, step_id)
            WHERE event = 'escalated' AND to_officer IS NOT NULL;
        CREATE INDEX audit_supplement_requested ON audit(at, dossier)
            WHERE event = 'supplement_requested';
        CREATE INDEX dossiers_received ON dossiers(
            channel, received_at, receiving_unit, procedure_code
        ) WHERE received_at IS NOT NULL;
        CREATE INDEX dossiers_resolved ON dossiers(
            result_class, resolved_at, receiving_unit, procedure_code
        ) WHERE resolved_at IS NOT NULL;
        CREATE INDEX dossiers_resolved_kpi ON dossiers(
            kpi_class, resolved_at, receiving_unit, procedure_code
        ) WHERE resolved_at IS NOT NULL;
        CREATE INDEX dossiers_late ON dossiers(
            resolved_at, received_at, result_class, apology_issued_at, appointment,
            receiving_unit, procedure_code
        ) WHERE resolved_at IS NOT NULL AND late_minutes > 0;
        CREATE INDEX dossiers_closed ON dossiers(
            closed_at, status, received_at, appointment, supplements, receiving_unit,
            procedure_code
        ) WHERE resolved_at IS NULL AND closed_at IS NOT NULL;
        CREATE INDEX dossiers_open ON dossiers(received_at)
            WHERE closed_at IS NULL AND resolved_at IS NULL;
        CREATE INDEX dossiers_returned_twice ON dossiers(received_at) WHERE supplements >= 2;
        """,
    )


def _m008_legal_appointment(db: sqlite_utils.Database) -> None:
    """``dossiers.legal_appointment``: the appointment the legal clock alone sets — at the
    complete, valid receipt (Mẫu 01), restarted in full when a supplement arrives (Decree
    118/2025 Art 19(5)), shifted by a financial-obligation pause — and that an apology with a new
    appointment (Art 19(6), Mẫu 04) does not move. The legal ``result_class`` and
    ``late_minutes`` of a resolved dossier are measured against it, so an apology moves the
    appointment, not the fact. (``original_appointment`` stays the one on the receipt, which the
    national indicators' clock, QĐ 766, measures against.)

    Existing rows: the current appointment where no apology moved it, else the one on the receipt
    (the best the row knows; the audit's ``apology`` row has the appointment it replaced). The
    apology's legal latest instant of an open dossier that has none yet is its old reminder
    instant, which was that instant.
    """
    _run_script(
        db,
        """
        ALTER TABLE dossiers ADD COLUMN legal_appointment TEXT;
        UPDATE dossiers SET legal_appointment = CASE WHEN apology_issued_at IS NULL
            THEN appointment ELSE original_appointment END;
        UPDATE dossiers SET apology_required_at = apology_at
            WHERE apology_required_at IS NULL AND apology_at IS NOT NULL;
        """,
    )


def _m009_procedure_seq(db: sqlite_utils.Database) -> None:
    """The order in which procedure versions became current, as for organisations.

    ``procedures.seq``: the highest of a code's versions is its current one. Before, the current
    version was the one with the latest ``loaded_at``, and loading an older version again stored
    nothing, so the engine that loaded it ran it as current while the next engine on the file
    took the other one; now loading a stored version that is not its code's current one makes
    it current again (``loaded_at`` that instant, the next ``seq``). An instant alone would not
    do, since clocks are injected and one engine's may be behind another's. The versions stored
    before are numbered in their old order (``loaded_at``, then the order of their rows).
    """
    _run_script(
        db,
        """
        ALTER TABLE procedures ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
        UPDATE procedures SET seq = (
            SELECT count(*) FROM procedures AS p WHERE p.loaded_at < procedures.loaded_at
            OR (p.loaded_at = procedures.loaded_at AND p.rowid <= procedures.rowid)
        );
        CREATE INDEX procedures_code_seq ON procedures(code, seq);
        """,
    )


def _m010_state_digests(db: sqlite_utils.Database) -> None:
    """Each audit row vouches for its dossier's rows (``lienthong audit verify --deep``).

    ``audit.format``: which fields a row's hash covers; the rows written before stay format 1
    (:data:`lienthong.store.audit.FIELDS`) and still verify. New rows are format 2: their hash
    also covers the format and ``audit.state_digest``, the digest of the dossier's row and step
    rows as they stood when the row was written (:mod:`lienthong.store.digests`; NULL on a row of
    no dossier). Adding columns fires no trigger and rewrites no row. A dossier whose last audit
    row is format 1 is not checked until a command writes to it.

    A file that already has the columns (a trial build numbered this migration 004) keeps them.
    """
    have = {r[1] for r in db.execute("PRAGMA table_info(audit)")}
    if "format" not in have:
        db.execute("ALTER TABLE audit ADD COLUMN format INTEGER NOT NULL DEFAULT 1")
    if "state_digest" not in have:
        db.execute("ALTER TABLE audit ADD COLUMN state_digest TEXT")


MIGRATIONS: list[tuple[str, Migration]] = [
    ("001_initial", _m001_initial),
    ("002_lean_step_indexes", _m002_lean_step_indexes),
    ("003_service_jobs", _m003_service_jobs),
    ("005_accountability_facts", _m005_accountability_facts),
    ("006_organisations", _m006_organisations),
    ("007_report_indexes", _m007_report_indexes),
    ("008_legal_appointment", _m008_legal_appointment),
    ("009_procedure_seq", _m009_procedure_seq),
    ("010_state_digests", _m010_state_digests),
]
