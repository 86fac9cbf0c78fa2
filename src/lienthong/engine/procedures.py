"""The engine's procedures: BPMN files loaded as versions, each stored once by its hash.

A dossier keeps the version it was received under; a version not in memory (another engine
loaded it, or this one restarted) is parsed again from the BPMN the store keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lienthong.bpmn.procedures import Procedure, load_procedure, procedure_from_store
from lienthong.errors import ProcedureError, UnknownProcedure
from lienthong.org import Organisation
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
        org: Organisation,
        restricted_scripts: bool,
        now: Callable[[], str | None],
    ) -> None:
        self.store = store
        self.hooks = hooks
        self.org = org
        self.restricted_scripts = restricted_scripts
        self._now = now
        self._versions: dict[str, Procedure] = {}
        self.current: dict[str, str] = tables.current_versions(store.db)

    def check(self, source: str | Path | bytes, *, name: str | None = None) -> Procedure:
        """Parse and check a BPMN file against the rules lint reports, the lanes' roles against
        the organisation and the service operations against the loaded plugins'; store
        nothing."""
        known = {op for batch in self.hooks.call("operations") for op in (batch or ())}
        return load_procedure(
            source,
            name=name,
            restricted_scripts=self.restricted_scripts,
            org=self.org,
            operations=known,
        )

    def load(self, source: str | Path | bytes, *, name: str | None = None) -> Procedure:
        """Parse a BPMN file and make it the current version of its procedure."""
        proc = self.check(source, name=name)
        self._store([proc])
        return proc

    def load_folder(self, folder: str | Path) -> list[Procedure]:
        """Every ``*.bpmn`` file of a folder, in name order; all of them, or none.

        Every file is checked before any is stored: when some are refused, one ProcedureError
        lists every refused file with its problems, and nothing is stored (a folder is one
        release of a province's procedures; half of it would leave the current versions mixed).
        """
        procs: list[Procedure] = []
        refused: list[ProcedureError] = []
        files = sorted(Path(folder).glob("*.bpmn"))
        for path in files:
            try:
                procs.append(self.check(path))
            except ProcedureError as e:
                refused.append(e)
        if refused:
            error = ProcedureError(
                f"{folder}: {len(refused)} of {len(files)} BPMN files are refused, so none was "
                "loaded:\n" + "\n".join(str(e) for e in refused)
            )
            error.problems = tuple(p for e in refused for p in e.problems)
            raise error
        self._store(procs)
        return procs

    def _store(self, procs: list[Procedure]) -> None:
        with self.store.transaction() as db:
            for proc in procs:
                if tables.has_procedure(db, proc.version):
                    # An older version loaded again is the current one again, after a restart
                    # too (its ``seq``), as it is in this engine's memory.
                    tables.make_current(db, proc.version, self._now())
                else:
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
        for proc in procs:
            self._versions[proc.version] = proc
            self.current[proc.code] = proc.version

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
        proc = procedure_from_store(
            stored[0], name=stored[1], restricted_scripts=self.restricted_scripts
        )
        self._versions[proc.version] = proc
        return proc

    def all_current(self) -> list[Procedure]:
        """The current version of every loaded procedure, by code."""
        return [self.get(code) for code in sorted(self.current)]
