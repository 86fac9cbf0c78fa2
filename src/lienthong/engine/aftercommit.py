"""What runs after a command has committed: the national portal's record and progress records
of each dossier the command changed, offered to the plugins that implement
``portal_record_changed`` (the plugin sends them; lienthong never calls the portal).

Why after the commit, and not inside the command as the lifecycle hooks are: the record is what
the store holds, so it must be what was committed; and a portal being slow, down or refusing a
record must never undo an officer's work. So:

- the command commits first; :meth:`Context.committed
  <lienthong.engine.context.Context.committed>` then hands over the codes of the dossiers whose
  audit got an event of :data:`lienthong.portal.progress.CHANGES` (a tick's batch, many);
- each dossier's record and progress records are built from the store
  (:func:`lienthong.portal.portal_payload`) in one short transaction of their own, in which
  each plugin is called in a savepoint of its own: what it writes to ``db`` (an outbox table,
  say) commits when the batch is done, or is undone alone if it raises;
- a plugin's exception does not reach the caller: it is logged (logger ``lienthong.portal``)
  and recorded in the audit (event ``portal_hook_failed``, naming the plugin), and the other
  plugins are still called. The command stays committed and returns normally. If even that
  transaction cannot be had (the store busy past its timeout), the failure is logged and the
  call is lost: the record is the dossier's whole state, so the next change carries all of it,
  and ``lienthong.portal.portal_record`` rebuilds it at any time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from lienthong.engine.context import Context, iso
from lienthong.portal.facts import Naming, naming
from lienthong.portal.record import portal_payload
from lienthong.store import orgs

HOOK = "portal_record_changed"
#: The audit event of a plugin that raised in :data:`HOOK`.
FAILED = "portal_hook_failed"

log = logging.getLogger("lienthong.portal")


class AfterCommit:
    """Offers the changed dossiers' portal payload to the plugins, after the commit."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._running = False
        # The names and titles of the stored organisations and the engine's, by the stored
        # current version: they change only when an engine opens with another organisation.
        self._naming: tuple[str | None, Naming] | None = None

    def __call__(self, codes: Sequence[str]) -> None:
        ctx = self.ctx
        if self._running or not ctx.hooks.has(HOOK):
            return
        self._running = True
        try:
            self._offer(codes)
        except Exception as e:  # the command has committed: nothing here may fail it
            log.warning(
                "%s not offered for %s: %s: %s", HOOK, ", ".join(codes), type(e).__name__, e
            )
        finally:
            self._running = False

    def _offer(self, codes: Sequence[str]) -> None:
        ctx = self.ctx
        hook = getattr(ctx.hooks.pm.hook, HOOK)
        # pluggy's order (the last registered first), each plugin on its own so that one
        # failing does not keep the record from the others.
        impls = [
            i
            for i in reversed(hook.get_hookimpls())
            if not (getattr(i, "hookwrapper", False) or getattr(i, "wrapper", False))
        ]
        # The store's transaction, not a command's: a command's would start the bookkeeping
        # of a new command (the service steps the one just committed opened are still to run).
        with ctx.store.transaction() as db:
            named = self._named(db)
            for code in codes:
                record, progress = portal_payload(db, code, named=named, records=ctx.records)
                for i, impl in enumerate(impls):
                    last = i == len(impls) - 1
                    self._call(db, impl, code, record, progress, copy=not last)

    def _named(self, db: Any) -> Naming:
        version = orgs.current_version(db)
        if self._naming is None or self._naming[0] != version:
            self._naming = (version, naming(db, self.ctx.org))
        return self._naming[1]

    def _call(
        self,
        db: Any,
        impl: Any,
        code: str,
        record: Mapping[str, Any],
        progress: Sequence[Mapping[str, Any]],
        *,
        copy: bool,
    ) -> None:
        ctx = self.ctx
        # Each plugin gets its own copy (the last one the original): what one changes in it,
        # the next does not see. Plain JSON data: orjson copies it faster than deepcopy.
        if copy:
            record, progress = orjson.loads(orjson.dumps([record, progress]))
        kwargs = {"record": record, "progress": progress, "db": db}
        try:
            with ctx.store.transaction():  # a savepoint: the plugin's writes, undone alone
                impl.function(*[kwargs[a] for a in impl.argnames])
        except Exception as e:
            message = (
                f"plugin {impl.plugin_name!r} failed in hook {HOOK!r} for dossier {code}: "
                f"{type(e).__name__}: {e}"
            )
            log.warning("%s (the command stays committed)", message, exc_info=e)
            try:
                with ctx.store.transaction():
                    ctx.audit(
                        db,
                        dossier=code,
                        event=FAILED,
                        at=iso(ctx.clock.now()),
                        note=message[:2000],
                        data={"plugin": impl.plugin_name, "hook": HOOK},
                    )
            except Exception as again:  # e.g. an audit_event plugin raising: logged, no more
                log.warning("the failure of %s was not audited: %s", impl.plugin_name, again)
