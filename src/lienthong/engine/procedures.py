"""The engine's procedures: BPMN files loaded as versions, each stored once by its hash.

A dossier keeps the version it was received under; a version not in memory (another engine
loaded it, or this one restarted) is parsed again from the BPMN the store keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lienthong.bpmn.procedures import Procedure, load_procedure
from lienthong.errors import ProcedureError, UnknownProcedure
from lienthong.plugins.manager import HookCaller
from lienthong.store import tables
from lienthong.store.sqlite import Store


class Procedures:
    """Procedure versions by hash, and the current version of each procedure code."""

    def __init__(
        self,
        store: Store,
        hooks: HookCaller,
        *,
        restricted_scripts: bool,
        now: Callable[[], str | None],
    ) -> None:
        self.store = store
        self.hooks = hooks
        self.restricted_scripts = restricted_scripts
        self._now = now
        self._versions: dict[str, Procedure] = {}
        self.current: dict[str, str] = tables.current_versions(store.db)

    def load(self, source: str | Path | bytes, *, name: str | None = None) -> Procedure:
        """Parse a BPMN file and make it the current version of its procedure."""
        proc = load_procedure(source, name=name, restricted_scripts=self.restricted_scripts)
        known = {op for batch in self.hooks.call("operations") for op in (batch or ())}
        for task_id, op in proc.operations.items():
            if op not in known:
                raise ProcedureError(
                    f"{proc.source}: service task {task_id!r} names the operation {op!r}, which "
                    f"no loaded plugin performs (known: {', '.join(sorted(known)) or 'none'})"
                )
        with self.store.transaction() as db:
            if not tables.has_procedure(db, proc.version):
                tables.insert_procedure(
                    db,
                    {
                        "version": proc.version,
                        "code": proc.code,
                        "name": proc.name,
                        "process_id": proc.process_id,
                        "deadline": proc.deadline_text,
                        "source": proc.source,
                        "bpmn": proc.bpmn,
                        "loaded_at": self._now(),
                    },
                )
        self._versions[proc.version] = proc
        self.current[proc.code] = proc.version
        return proc

    def load_folder(self, folder: str | Path) -> list[Procedure]:
        """Every ``*.bpmn`` file of a folder, in name order."""
        return [self.load(p) for p in sorted(Path(folder).glob("*.bpmn"))]

    def get(self, code_or_version: str) -> Procedure:
        """The current version of a procedure by code, or an exact version by its hash."""
        version = self.current.get(code_or_version, code_or_version)
        found = self._versions.get(version)
        if found is not None:
            return found
        stored = tables.procedure_source(self.store.db, version)
        if stored is None:
            known = ", ".join(sorted(self.current)) or "none"
            raise UnknownProcedure(f"unknown procedure {code_or_version!r} (loaded: {known})")
        proc = load_procedure(stored[0], name=stored[1], restricted_scripts=self.restricted_scripts)
        self._versions[proc.version] = proc
        return proc

    def all_current(self) -> list[Procedure]:
        """The current version of every loaded procedure, by code."""
        return [self.get(code) for code in sorted(self.current)]
