"""SQLite's SQL, as lienthong and its plugins write it, turned into PostgreSQL's.

The statements stay written once, for SQLite (:mod:`~lienthong.store.tables`, the reports, the
plugins' own tables); :func:`translate` rewrites each statement text the first time it is run on
PostgreSQL and keeps the result, so the cost is paid once per text, not per call:

- parameters: ``?`` and ``?NNN`` become ``%s`` (with the order of the arguments for the numbered
  ones), ``:name`` becomes ``%(name)s``; a literal ``%`` is doubled;
- types in DDL: ``INTEGER PRIMARY KEY`` becomes an identity column, ``INTEGER`` ``BIGINT`` (SQLite
  integers have 64 bits), ``BLOB`` ``BYTEA``, ``REAL`` ``DOUBLE PRECISION``; ``WITHOUT ROWID`` goes;
- the two triggers that refuse to change the audit become a trigger function;
- ``INSERT OR IGNORE`` becomes ``ON CONFLICT DO NOTHING``, ``WHERE 1`` ``WHERE true``, ``rowid``
  ``ctid``, ``BEGIN IMMEDIATE`` ``BEGIN``; PRAGMAs are answered by the adapter
  (:mod:`lienthong.store.pgdb`), not sent.

SQLite's scalar ``max(a, b)``/``min(a, b)`` and its ``total()`` aggregate are SQL functions the
PostgreSQL store creates with its first migration (:data:`SUPPORT_FUNCTIONS`), so statements
using them need no rewriting.

The translation reads the text outside string literals and quoted names only, with a small
scanner, not a parser: what it does not know it leaves as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lienthong.store.digests import FAULTS_SQL

#: Functions SQLite has and PostgreSQL lacks, created in the store's schema by migration 001.
SUPPORT_FUNCTIONS = (
    "CREATE FUNCTION max(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE "
    "AS 'SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE greatest(a, b) END'",
    "CREATE FUNCTION min(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE "
    "AS 'SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE least(a, b) END'",
    "CREATE FUNCTION max(a bigint, b bigint) RETURNS bigint LANGUAGE sql IMMUTABLE "
    "AS 'SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE greatest(a, b) END'",
    "CREATE FUNCTION min(a bigint, b bigint) RETURNS bigint LANGUAGE sql IMMUTABLE "
    "AS 'SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE least(a, b) END'",
    # SQLite's total(): the sum as a float, 0.0 over no rows.
    "CREATE AGGREGATE total(double precision) (SFUNC = float8pl, STYPE = double precision, "
    "INITCOND = '0')",
    # SQLite adds truth values as 0 and 1.
    "CREATE FUNCTION lienthong_add(s double precision, b boolean) RETURNS double precision "
    "LANGUAGE sql IMMUTABLE AS 'SELECT s + CASE WHEN b THEN 1 ELSE 0 END'",
    "CREATE AGGREGATE total(boolean) (SFUNC = lienthong_add, STYPE = double precision, "
    "INITCOND = '0')",
    "CREATE FUNCTION lienthong_count(s bigint, b boolean) RETURNS bigint "
    "LANGUAGE sql IMMUTABLE AS 'SELECT coalesce(s, 0) + CASE WHEN b THEN 1 ELSE 0 END'",
    "CREATE AGGREGATE sum(boolean) (SFUNC = lienthong_count, STYPE = bigint)",
    # What SQLite's RAISE(ABORT, message) in a BEFORE trigger does: refuse the statement.
    # SQLite's catalogue, as far as lienthong and its plugins read it (type, name, tbl_name).
    "CREATE VIEW sqlite_master AS SELECT 'table'::text AS type, table_name::text AS name, "
    "table_name::text AS tbl_name, NULL::text AS sql FROM information_schema.tables "
    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
    "UNION ALL SELECT 'index', indexname::text, tablename::text, indexdef::text FROM pg_indexes "
    "WHERE schemaname = current_schema() "
    "UNION ALL SELECT 'trigger', tgname::text, c.relname::text, NULL FROM pg_trigger t "
    "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal "
    "AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())",
    "CREATE FUNCTION lienthong_refuse() RETURNS trigger LANGUAGE plpgsql "
    "AS 'BEGIN RAISE EXCEPTION ''%'', TG_ARGV[0] USING ERRCODE = ''23000''; END'",
)


@dataclass(frozen=True)
class Translated:
    """One statement for PostgreSQL.

    ``sql``: its text (``None``: a statement the adapter answers itself, a PRAGMA);
    ``order``: for ``?NNN`` parameters, the index of the argument each ``%s`` takes;
    ``named``: it takes a mapping (``:name``); ``returns_id``: an INSERT into a table with an
    ``id`` column, given ``RETURNING id`` so that the cursor has a ``lastrowid``;
    ``pragma``: the PRAGMA's text, lower case.
    """

    sql: str | None
    order: tuple[int, ...] | None = None
    named: bool = False
    returns_id: bool = False
    pragma: str | None = None


#: Expressions rewritten whole, where the value is text that is hashed and must be the same bytes
#: on both stores: the faults of a dossier's state digest (:data:`lienthong.store.digests.
#: FAULTS_SQL`), SQLite's compact JSON ``[["unit",minutes],...]`` in the key's byte order.
_SAME_TEXT = {
    FAULTS_SQL: (
        "(SELECT nullif('[' || string_agg('[' || to_json(unit)::text || ',' || minutes::text "
        "|| ']', ',' ORDER BY unit COLLATE \"C\") || ']', '[]') FROM dossier_faults "
        "WHERE dossier = dossiers.code)"
    ),
}

#: Tables whose rows have an ``id INTEGER PRIMARY KEY`` (a rowid SQLite returns as lastrowid).
ID_TABLES = frozenset({"steps", "audit"})

_CACHE: dict[str, Translated] = {}

_TRIGGER = re.compile(
    r"CREATE\s+TRIGGER\s+(\w+)\s+BEFORE\s+(UPDATE|DELETE)\s+ON\s+(\w+)\s+BEGIN\s+SELECT\s+"
    r"RAISE\s*\(\s*ABORT\s*,\s*'([^']*)'\s*\)\s*;\s*END\s*;?\s*$",
    re.I | re.S,
)
_INSERT = re.compile(r"^\s*INSERT\s+(OR\s+(IGNORE|REPLACE)\s+)?INTO\s+(\w+)", re.I)


def translate(sql: str) -> Translated:
    """The PostgreSQL form of a statement written for SQLite (kept once computed)."""
    found = _CACHE.get(sql)
    if found is None:
        found = _translate(sql)
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[sql] = found
    return found


def _translate(sql: str) -> Translated:
    stripped = sql.strip().rstrip(";").strip()
    head = stripped[:16].upper()
    if head.startswith("PRAGMA"):
        return Translated(None, pragma=stripped[6:].strip().lower())
    if head.startswith("BEGIN"):
        return Translated(
            re.sub(r"^BEGIN\s+(IMMEDIATE|DEFERRED|EXCLUSIVE)\b", "BEGIN", stripped, flags=re.I)
        )
    m = _TRIGGER.match(stripped + ";")
    if m:
        name, op, table, message = m.groups()
        return Translated(
            f"CREATE TRIGGER {name} BEFORE {op.upper()} ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION lienthong_refuse('{message}')"
        )
    for sqlite_text, pg_text in _SAME_TEXT.items():
        stripped = stripped.replace(sqlite_text, pg_text)
    text, order, named = _parameters(stripped)
    if re.match(r"^\s*(CREATE|ALTER)\s+TABLE", text, re.I):
        text = _ddl(text)
    text = _words(text)
    if "(" in text and re.search(r"\bFROM\s*\(", text, re.I):
        text = _aliases(text)
    returns_id = False
    ins = _INSERT.match(text)
    if ins:
        conflict, table = ins.group(2), ins.group(3)
        if conflict:
            text = text[: ins.start(1)] + text[ins.end(1) :]
            if conflict.upper() == "IGNORE" and " ON CONFLICT " not in text.upper():
                text = _before_returning(text, " ON CONFLICT DO NOTHING")
        upsert = re.search(r"\bDO\s+UPDATE\s+SET\b", text, re.I)
        if upsert:
            # SQLite reads a bare column in DO UPDATE as the stored row's; PostgreSQL wants it
            # named (it could be excluded's).
            head, tail = text[: upsert.end()], text[upsert.end() :]
            tail = re.sub(r"(?<![.\w])(\w+)(\s*=\s*)\1\b(?!\s*\()", rf"\1\2{table}.\1", tail)
            text = head + tail
        if table.lower() in ID_TABLES and "RETURNING" not in text.upper():
            text += " RETURNING id"
            returns_id = True
    return Translated(text, order, named, returns_id)


def _before_returning(text: str, clause: str) -> str:
    m = re.search(r"\sRETURNING\s", text, re.I)
    if m is None:
        return text + clause
    return text[: m.start()] + clause + text[m.start() :]


def _ddl(text: str) -> str:
    text = re.sub(
        r"\bINTEGER\s+PRIMARY\s+KEY\b",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        text,
        flags=re.I,
    )
    text = re.sub(r"\bINTEGER\b", "BIGINT", text, flags=re.I)
    text = re.sub(r"\bBLOB\b", "BYTEA", text, flags=re.I)
    text = re.sub(r"\bREAL\b|\bFLOAT\b", "DOUBLE PRECISION", text, flags=re.I)
    text = re.sub(r"\)\s*WITHOUT\s+ROWID\s*$", ")", text, flags=re.I)
    return text


_KEYWORDS = frozenset(
    {
        "ORDER", "WHERE", "GROUP", "LIMIT", "JOIN", "LEFT", "INNER", "CROSS", "UNION",
        "EXCEPT", "INTERSECT", "HAVING", "ON",
    }
)  # fmt: skip


def _aliases(text: str) -> str:
    """A name for each subquery in FROM that has none (PostgreSQL 15 wants one)."""
    out = text
    n = 0
    start = 0
    while True:
        m = re.compile(r"\bFROM\s*\(\s*SELECT\b", re.I).search(out, start)
        if m is None:
            return out
        i = out.index("(", m.start())
        depth = 0
        j = i
        while j < len(out):
            if out[j] == "(":
                depth += 1
            elif out[j] == ")":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        after = re.match(r"\s*(\w+)?", out[j + 1 :])
        word = after.group(1) if after else None
        if word is None or word.upper() in _KEYWORDS:
            n += 1
            out = f"{out[: j + 1]} AS _sub{n}{out[j + 1 :]}"
        start = i + 1


def _words(text: str) -> str:
    """Rewrites of words outside literals (the scanner has already doubled ``%``)."""
    out = []
    for chunk, literal in _chunks(text):
        if not literal:
            chunk = re.sub(r"\bWHERE\s+1\b(?!\s*[=<>!])", "WHERE true", chunk, flags=re.I)
            chunk = re.sub(r"\browid\b", "ctid", chunk, flags=re.I)
        out.append(chunk)
    return "".join(out)


def _chunks(text: str) -> list[tuple[str, bool]]:
    """The text cut into (piece, is a literal or quoted name or comment)."""
    out: list[tuple[str, bool]] = []
    i, start, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            j = i + 1
            while j < n:
                if text[j] == c:
                    if j + 1 < n and text[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append((text[start:i], False))
            out.append((text[i : j + 1], True))
            i = start = j + 1
            continue
        if c == "-" and text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append((text[start:i], False))
            out.append((text[i:j], True))
            i = start = j
            continue
        i += 1
    out.append((text[start:], False))
    return out


_PARAM = re.compile(r"\?(\d*)|(?<![:\w]):([A-Za-z_]\w*)|%")


def _parameters(sql: str) -> tuple[str, tuple[int, ...] | None, bool]:
    """``?``, ``?NNN`` and ``:name`` as psycopg's placeholders; ``%`` doubled everywhere (psycopg
    reads placeholders in literals too)."""
    order: list[int] = []
    numbered = False
    named = False
    plain = 0
    out = []
    for chunk, literal in _chunks(sql):
        if literal:
            out.append(chunk.replace("%", "%%"))
            continue

        def sub(m: re.Match[str]) -> str:
            nonlocal numbered, named, plain
            if m.group(0) == "%":
                return "%%"
            if m.group(2) is not None:
                named = True
                return f"%({m.group(2)})s"
            if m.group(1):
                numbered = True
                order.append(int(m.group(1)) - 1)
            else:
                order.append(plain)
                plain += 1
            return "%s"

        out.append(_PARAM.sub(sub, chunk))
    text = "".join(out)
    if numbered:
        # ?NNN and bare ? mixed: a bare ? takes the number after the largest before it, as in
        # SQLite; only numbered ones are in lienthong's statements.
        return text, tuple(order), named
    return text, None, named
