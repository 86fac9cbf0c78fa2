"""Reading a published internal process (quy trình nội bộ) from a CSV or TOML table.

:func:`read_table` reads the table as a spreadsheet saves it (CSV, comma, semicolon or tab
separated, UTF-8) or as TOML, and checks it row by row: the header rows give the procedure
(code, name, deadline, legal basis ...; :data:`HEADER`), the table its steps (:data:`COLUMNS`,
matched by their English or Vietnamese names, with or without diacritics). Times are read as
the published tables write them (:func:`parse_time`). Every problem is reported at once, each
with its row and column, in one :class:`~lienthong.errors.TableError`.
:mod:`lienthong.bpmn.tables` makes the BPMN file.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from pathlib import Path

import attrs

from lienthong.errors import InvalidData, TableError
from lienthong.legaltime.durations import MINUTES_PER_DAY, SAME_DAY, format_duration, parse_duration

__all__ = ["COLUMNS", "HEADER", "Row", "Table", "TableProblems", "parse_time", "read_table"]


def normalise(text: str) -> str:
    """``Thời gian thực hiện`` -> ``thoi-gian-thuc-hien``: how column names are matched."""
    s = unicodedata.normalize("NFD", text.strip().lower().replace("đ", "d"))
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = re.sub(r"[\s_/-]+", "-", s)
    return re.sub(r"[.:()*]", "", s).strip("-")


def _aliases(table: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, names in table.items():
        for n in [key, *names.split("|")]:
            out[normalise(n)] = key
    return out


#: The table's columns (English key: the names it is also known by); the first four are needed.
COLUMNS = {
    "no": "step no|step|#|tt|stt|bước|thứ tự|số thứ tự",
    "name": "step name|tên bước|nội dung|nội dung công việc|công việc",
    "role": "unit role|vai trò|mã vai trò",
    "time": "share|thời gian|thời gian thực hiện",
    "unit": "đơn vị|đơn vị thực hiện|đơn vị/người thực hiện|bộ phận|cơ quan|"
    "cơ quan, bộ phận thực hiện|cơ quan, bộ phận, người thực hiện|lane",
    "kind": "step kind|loại bước|loại",
    "parallel": "parallel group|song song|nhóm song song",
    "choice": "choice group|rẽ nhánh|nhóm rẽ nhánh",
    "branch": "nhánh",
    "condition": "điều kiện",
    "fields": "required fields|trường bắt buộc|dữ liệu",
    "operation": "thao tác|nghiệp vụ",
    "id": "step id|mã bước",
    "documentation": "notes|ghi chú|mô tả|description",
}
#: The header keys: what the process carries (``lienthong:`` properties, names).
HEADER = {
    "code": "procedure code|procedure-code|mã tthc|mã thủ tục",
    "name": "procedure name|procedure-name|tên thủ tục|tên tthc",
    "deadline": "thời hạn|thời hạn giải quyết|tổng thời gian",
    "legal-basis": "căn cứ|căn cứ pháp lý",
    "required-documents": "documents|thành phần hồ sơ",
    "fee": "lệ phí|phí",
    "supplement-window": "thời hạn yêu cầu bổ sung",
    "coordinating": "cơ quan phối hợp|phối hợp",
    "documentation": "mô tả|ghi chú",
    "id": "process id",
    "pool": "participant",
    "start": "start event|bắt đầu",
    "end": "end event|kết thúc",
}
_COLUMN = _aliases(COLUMNS)
_HEADER = _aliases(HEADER)
_REQUIRED = ("no", "name", "role", "time")
_KINDS = _aliases(
    {"reception": "tiếp nhận", "processing": "xử lý|giải quyết", "return": "trả kết quả|trả"}
)
#: Times that count nothing, as the published tables write them.
_ZERO = {
    normalise(t)
    for t in (
        "",
        "0",
        "-",
        "—",
        "không tính thời gian",
        "không tính",
        "giờ hành chính",
        "không quy định",
        "theo quy định của pháp luật",
        "not counted",
    )
}
_SAME_DAY = {
    normalise(t) for t in (SAME_DAY, "trong ngày", "ngay trong ngày", "trong ngày làm việc")
}
_TIME = re.compile(r"(\d+(?:[.,]\d+)?)\s*(ngay|gio|phut|d|h|m)(?:\s*lam\s*viec)?")
#: "Không quá 08 ngày", "tối đa 4 giờ": the limit is the time.
_LIMIT = re.compile(r"^(khong qua|toi da|trong vong|trong thoi han)\s+")
_TIME_UNIT = {"ngay": MINUTES_PER_DAY, "d": MINUTES_PER_DAY, "gio": 60, "h": 60, "phut": 1, "m": 1}
#: What a choice branch's condition cell says for the default branch (the usual outcome).
DEFAULT_CONDITIONS = {"", "default", "else", "mac-dinh", "khac"}
_RESERVED = re.compile(r"^(submitted|done|(split|join|choice|merge|flow)_.*)$")
_ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_TIME_HINT = "write e.g. 0,5 ngày, 4 giờ, 90 phút or 1d4h (one working day is 8 hours), or 0"


def parse_time(text: str, *, deadline: bool = False) -> tuple[int, bool]:
    """The working minutes a published time stands for, and whether it is "same-day".

    ``0,5 ngày``, ``04 giờ``, ``03 ngày làm việc``, ``1 ngày 4 giờ`` and lienthong's own
    ``0.5d``/``4h``/``1d4h`` are read; ``Giờ hành chính``, ``Không tính thời gian`` and an
    empty cell count nothing; ``trong ngày`` is a same-day deadline (only for ``deadline``).
    Anything else is an InvalidData.
    """
    n = normalise(text)
    if deadline and n in _SAME_DAY:
        return MINUTES_PER_DAY, True
    if n in _ZERO and not deadline:
        return 0, False
    # As normalise, but keeping the decimal point: 0.25d.
    plain = unicodedata.normalize("NFD", text.strip().lower().replace("đ", "d"))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    plain = _LIMIT.sub("", " ".join(plain.split()))
    total, pos = 0.0, 0
    for m in _TIME.finditer(plain):
        if plain[pos : m.start()].strip():
            break
        total += float(m.group(1).replace(",", ".")) * _TIME_UNIT[m.group(2)]
        pos = m.end()
    if pos and not plain[pos:].strip():
        return round(total), False
    try:
        return parse_duration(text.replace(",", ".")), False
    except InvalidData:
        raise InvalidData(f"{text!r} is not a time: {_TIME_HINT}") from None


@attrs.frozen
class Row:
    """One step of the table; ``row`` is its line in a CSV file or its number in TOML."""

    row: int
    no: str
    id: str
    name: str
    role: str
    unit: str
    minutes: int
    kind: str = "processing"
    parallel: str = ""
    choice: str = ""
    branch: str = ""
    condition: str = ""
    fields: tuple[str, ...] = ()
    operation: str = ""
    documentation: str = ""


@attrs.frozen
class Table:
    """A procedure's table: its header (``header`` keys as in :data:`HEADER`) and its steps."""

    file: str
    header: Mapping[str, str]
    rows: tuple[Row, ...]
    deadline_minutes: int
    same_day: bool
    unit: str = "row"  # what the rows are called in messages: CSV rows, or TOML [[step]]s

    @property
    def code(self) -> str:
        return self.header["code"]


class TableProblems:
    """The problems found so far, each with its row and column; raised as one TableError."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[tuple[int, str, str]] = []

    def add(self, row: int, column: str, message: str) -> None:
        self.items.append((row, column, message))

    def raise_if_any(self, unit: str = "row") -> None:
        if not self.items:
            return
        lines = []
        for row, column, message in self.items:
            where = f"{unit} {row}" if row else "header"
            where += f", column {column!r}" if column else ""
            lines.append(f"{where}: {message}")
        if len(lines) == 1:
            text = f"{self.file}: {lines[0]}"
        else:
            text = f"{self.file}: {len(lines)} problems:\n" + "\n".join(f"  {x}" for x in lines)
        error = TableError(text)
        error.problems = tuple(self.items)
        raise error


def _guess(word: str, known: Mapping[str, str]) -> str:
    """``; did you mean 'unit'?``: the key of the name ``word`` is closest to, if any."""
    found = difflib.get_close_matches(normalise(word), list(known), n=1, cutoff=0.7)
    return f"; did you mean {known[found[0]]!r}?" if found else ""


def read_table(path: str | Path) -> Table:
    """The table in a ``.csv`` or ``.toml`` file (its kind from the name), checked row by row."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise TableError(f"{p}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise TableError(
            f"{p}: not UTF-8 text (byte {e.start}): save it as 'CSV UTF-8' or as UTF-8 TOML"
        ) from None
    if p.suffix.lower() == ".toml":
        return _from_toml(text, str(p))
    if p.suffix.lower() in (".csv", ".tsv", ".txt"):
        return _from_csv(text, str(p))
    raise TableError(f"{p}: a table of steps is a .csv or a .toml file")


def _from_csv(text: str, file: str) -> Table:
    found = TableProblems(file)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    header: dict[str, str] = {}
    columns: list[str] | None = None
    records: list[tuple[int, dict[str, str]]] = []
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            cells = [c.strip() for c in cells]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if columns is None:
                names = [_COLUMN.get(normalise(c)) for c in cells]
                if "no" in names and "name" in names:
                    columns = _columns(cells, line, found)
                    continue
                _header_row(cells, line, header, found)
                continue
            extra = [c for c in cells[len(columns) :] if c]
            if extra:
                found.add(line, "", f"{len(cells)} cells, more than the {len(columns)} columns")
            records.append((line, dict(zip(columns, cells, strict=False))))
    except csv.Error as e:
        found.add(reader.line_num, "", f"not CSV: {e}")
    if columns is None and not found.items:
        found.add(0, "", "no table header row: a row naming the columns no, name, role, time")
    found.raise_if_any()
    return _table(file, header, records, found, unit="row")


def _delimiter(text: str) -> str:
    """The separator the table's header row is written with: a Vietnamese spreadsheet saves
    ``;`` (its decimal mark is the comma, as in ``0,5 ngày``), others ``,`` or a tab."""
    for d in (",", ";", "\t"):
        try:
            for cells in csv.reader(io.StringIO(text[:20000]), delimiter=d):
                names = {_COLUMN.get(normalise(c)) for c in cells}
                if {"no", "name"} <= names:
                    return d
        except csv.Error:
            continue
    return ","


def _columns(cells: list[str], line: int, found: TableProblems) -> list[str]:
    out = []
    for cell in cells:
        key = _COLUMN.get(normalise(cell))
        if key is None:
            if cell:
                found.add(line, cell, f"not a column lienthong reads{_guess(cell, _COLUMN)}")
            key = f"?{cell}"
        elif key in out:
            found.add(line, cell, f"a second {key!r} column")
        out.append(key)
    for need in _REQUIRED:
        if need not in out:
            vn = COLUMNS[need].split("|")[-1]
            found.add(line, "", f"the table has no {need!r} column ({vn})")
    return out


def _header_row(cells: list[str], line: int, header: dict[str, str], found: TableProblems) -> None:
    key = _HEADER.get(normalise(cells[0]))
    if key is None:
        found.add(line, "", f"{cells[0]!r} is not a header key{_guess(cells[0], _HEADER)}")
        return
    values = [c for c in cells[1:] if c]
    if len(values) > 1:
        found.add(
            line,
            key,
            f"{len(values)} values: a header row is a key and one value (put a value "
            'with commas in double quotes: "a, b")',
        )
    header[key] = values[0] if values else ""


def _from_toml(text: str, file: str) -> Table:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TableError(f"{file}: not TOML: {e}") from None
    found = TableProblems(file)
    header: dict[str, str] = {}
    proc = doc.get("procedure", {})
    if not isinstance(proc, dict):
        found.add(0, "", "[procedure] must be a table of keys")
        proc = {}
    for k, v in proc.items():
        key = _HEADER.get(normalise(k))
        if key is None:
            found.add(0, k, f"not a header key{_guess(k, _HEADER)}")
            continue
        header[key] = "; ".join(map(str, v)) if isinstance(v, list) else str(v)
    for k in doc:
        if k not in ("procedure", "step"):
            found.add(0, k, "a table of steps has [procedure] and [[step]] tables only")
    steps = doc.get("step", [])
    records: list[tuple[int, dict[str, str]]] = []
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        found.add(0, "step", "the steps are [[step]] tables")
        steps = []
    for i, step in enumerate(steps, 1):
        record: dict[str, str] = {}
        for k, v in step.items():
            key = _COLUMN.get(normalise(k))
            if key is None:
                found.add(i, k, f"not a key lienthong reads{_guess(k, _COLUMN)}")
                continue
            record[key] = ", ".join(map(str, v)) if isinstance(v, list) else str(v)
        for need in _REQUIRED:
            if need not in record:
                found.add(i, need, "missing")
        records.append((i, record))
    found.raise_if_any(unit="[[step]]")
    return _table(file, header, records, found, unit="[[step]]")


def _table(
    file: str,
    header: dict[str, str],
    records: list[tuple[int, dict[str, str]]],
    found: TableProblems,
    *,
    unit: str,
) -> Table:
    for key in ("code", "name", "deadline"):
        if not header.get(key, "").strip():
            found.add(0, key, f"the header has no {key!r} ({HEADER[key].split('|')[-1]})")
    deadline, same_day = 0, False
    if header.get("deadline"):
        try:
            deadline, same_day = parse_time(header["deadline"], deadline=True)
        except InvalidData as e:
            found.add(0, "deadline", str(e))
    if header.get("supplement-window"):
        try:
            minutes, _ = parse_time(header["supplement-window"])
            header["supplement-window"] = format_duration(minutes)
        except InvalidData as e:
            found.add(0, "supplement-window", str(e))
    rows: list[Row] = []
    ids: dict[str, int] = {}
    for line, rec in records:
        row = _row(line, rec, found)
        if row is None:
            continue
        if row.id in ids:
            found.add(line, "no", f"step {row.no!r} again (also row {ids[row.id]})")
        ids[row.id] = line
        rows.append(row)
    if not records:
        found.add(0, "", "the table has no steps")
    found.raise_if_any(unit)
    return Table(file, dict(header), tuple(rows), deadline, same_day, unit)


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", normalise(text)).strip("_")
    return s if s and not s[0].isdigit() else f"_{s}"


def _row(line: int, rec: dict[str, str], found: TableProblems) -> Row | None:
    before = len(found.items)
    get = lambda key: (rec.get(key) or "").strip()  # noqa: E731
    no = re.sub(r"^(buoc|step)\s*", "", normalise(get("no")).replace("-", " ")).strip()
    if not no:
        found.add(line, "no", "empty: number each step (1, 2, 5a ...)")
    name = get("name")
    if not name:
        found.add(line, "name", "empty: name the step")
    role = get("role")
    if not _ROLE.match(role):
        found.add(
            line,
            "role",
            f"{role!r} is not a unit role: write the role the organisation file gives "
            "(e.g. one-stop-desk) and the unit's name in the 'unit' column",
        )
    minutes = 0
    try:
        minutes, _ = parse_time(get("time"))
    except InvalidData as e:
        found.add(line, "time", str(e))
    kind = _KINDS.get(normalise(get("kind")), "processing" if not get("kind") else "")
    if not kind:
        found.add(
            line, "kind", f"{get('kind')!r}: write reception (tiếp nhận), processing or return"
        )
    fields = tuple(f.strip() for f in re.split(r"[,;]", get("fields")) if f.strip())
    for f in fields:
        if not f.isidentifier():
            found.add(line, "fields", f"{f!r} is not a field name: letters, digits and _ only")
    operation = get("operation")
    if operation and not re.match(r"^[A-Za-z_][\w.]*$", operation):
        found.add(line, "operation", f"{operation!r} is not an operation name (e.g. tax.register)")
    parallel, choice = get("parallel"), get("choice")
    if parallel and choice:
        found.add(line, "choice", "a step is in a parallel group or a choice group, not both")
    if get("condition") and not choice:
        found.add(line, "condition", "a condition needs the step's choice group")
    step_id = get("id") or f"step_{slug(no).lstrip('_')}"
    if not re.match(r"^[A-Za-z_][\w.-]*$", step_id):
        found.add(line, "id", f"{step_id!r} is not a BPMN id: letters, digits, _ . - only")
    elif _RESERVED.match(step_id):
        found.add(line, "id", f"{step_id!r} is the name of an element lienthong adds: rename it")
    if len(found.items) > before:
        return None
    return Row(
        row=line, no=no, id=step_id, name=name, role=role, unit=get("unit") or role,
        minutes=minutes, kind=kind, parallel=parallel, choice=choice, branch=get("branch"),
        condition=get("condition"), fields=fields, operation=operation,
        documentation=get("documentation"),
    )  # fmt: skip
