"""Who may do what: one function per decision, each raising :class:`NotAllowed` whose message
names who may (``docs/permissions.md`` has the table).

lienthong trusts the officer id it is given: authenticating the person behind it is the
caller's (the portal, the province's single sign-on). What is checked here is whether that
officer, in the organisation and at the command's instant, may do what the command does.

The functions take the :class:`~lienthong.org.Organisation` and plain values (unit codes,
officer ids, instants), never a record or the store: each rule reads in one place, and the
commands call them inside their transaction, so that a refusal leaves nothing stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias

from lienthong.errors import InvalidData, NotAllowed
from lienthong.org import Delegation, Officer, Organisation

#: What an audit row's ``data`` says of the capacity in which an officer acted, when their own
#: unit would not have let them: ``{"acting": "delegation", ...}`` or ``{"acting": "escalation",
#: ...}`` (see :func:`may_work_step`). ``None``: as an officer of the unit.
Acting: TypeAlias = dict[str, Any] | None

__all__ = [
    "Acting",
    "acts_for",
    "by_delegation",
    "check_routing",
    "known_officer",
    "may_apologise",
    "may_migrate",
    "may_pause",
    "may_receive",
    "may_receive_supplement",
    "may_request_supplement",
    "may_resume",
    "may_withdraw_for_agency",
    "may_withdraw_for_applicant",
    "may_work_step",
    "resolving_units",
    "step_label",
    "work_units",
]


# -- the building blocks -----------------------------------------------------------------------
def known_officer(org: Organisation, officer: str) -> Officer:
    """The officer, or :class:`NotAllowed`: an id the organisation does not list may do nothing."""
    o = org.officers.get(officer) if isinstance(officer, str) else None
    if o is None:
        raise NotAllowed(f"unknown officer {officer!r}")
    return o


def acts_for(org: Organisation, officer: str, unit: str, at: datetime) -> bool:
    """The officer works for the unit at ``at``: a member, its head or a deputy, or the holder
    of a delegation (ủy quyền) for it in force then."""
    return org.may_act_for(officer, unit) or org.delegated(officer, unit, at) is not None


def work_units(org: Organisation, officer: str, at: datetime) -> list[str]:
    """The units whose unclaimed steps the officer may take at ``at``, their own first: the
    unit they belong to, the units they head or deputise, and the units a delegation (ủy quyền)
    in force then lends them. What ``open_steps(officer=...)`` lists, with the steps assigned
    or escalated to them."""
    o = org.officer(officer)
    units = [o.unit]
    for u in org.units.values():
        if u.code not in units and (officer == u.head or officer in u.deputies):
            units.append(u.code)
    for d in org.delegations:
        if d.to_officer == officer and d.covers(at) and d.unit not in units:
            units.append(d.unit)
    return units


def by_delegation(org: Organisation, officer: str, unit: str, at: datetime) -> Acting:
    """The capacity to record when the officer acts for ``unit`` only through a delegation in
    force at ``at`` (they are neither a member nor in its leadership): who signed it, for which
    unit, its reference and window, so that the audit row reads alone even after the
    organisation file has changed. ``None`` when they act as the unit's own."""
    if org.may_act_for(officer, unit):
        return None
    d = org.delegated(officer, unit, at)
    return None if d is None else _delegation_data(officer, d)


def _delegation_data(officer: str, d: Delegation) -> dict[str, Any]:
    return {
        "acting": "delegation",
        "officer": officer,
        "for": d.from_officer,
        "unit": d.unit,
        "reference": d.reference,
        "valid_from": d.valid_from.isoformat(),
        "valid_to": d.valid_to.isoformat(),
    }


def step_label(step_id: int, name: str, dossier: str) -> str:
    """How messages name a step: ``step 3 (Tiếp nhận hồ sơ) of 000.00.01.H29-250303-0001``."""
    return f"step {step_id} ({name}) of {dossier}"


def resolving_units(routing: Mapping[str, str], lead_roles: Iterable[str]) -> list[str]:
    """The units that resolve a dossier: those its routing gives the roles of the lanes that are
    not only coordinating (``lienthong:coordinating``), in lane order, each once."""
    out: list[str] = []
    for role in lead_roles:
        unit = routing.get(role)
        if unit is not None and unit not in out:
            out.append(unit)
    return out


# -- the decisions ------------------------------------------------------------------------------
def may_receive(org: Organisation, officer: str | None, *, unit: str, at: datetime) -> Acting:
    """Receive a dossier at ``unit``: an officer of that unit. No officer: the system received
    it (the portal for an online dossier, or a desk whose intake does not name the officer).
    Returns the delegation the officer acts through, if that is what lets them."""
    if officer is None:
        return None
    known_officer(org, officer)
    if acts_for(org, officer, unit, at):
        return by_delegation(org, officer, unit, at)
    raise NotAllowed(
        f"only {_either(_officers_of(org, unit, at))} may receive a dossier at {_name(org, unit)}; "
        f"{_why(org, officer, unit, at)}"
    )


def may_work_step(
    org: Organisation,
    officer: str,
    *,
    action: str,
    step: str,
    unit: str,
    assignee: str | None,
    escalated_to: str | None,
    at: datetime,
    escalation_level: int = 0,
) -> Acting:
    """Claim or complete (``action``) a user step of ``unit``.

    An officer of the step's unit may, and so may the holder of a delegation for it in force at
    ``at``, and the officer the step was escalated to. A head of a unit above it may not merely
    for being above: the tick escalates an overdue step up the hierarchy, and that escalation is
    what hands it to them. A claim by another officer stands against everyone but the officer
    the step was escalated to: that is what escalation is for.

    Returns the capacity the act needed, for the audit: ``None`` when the officer acts as one of
    the unit's own (a member, its head or a deputy) on a step nobody else holds; else the
    escalation (``{"acting": "escalation", "level": n, ...}``) when the step is escalated to
    them, which also covers taking it over another's claim; else the delegation.
    """
    known_officer(org, officer)
    escalated = escalated_to is not None and officer == escalated_to
    own = org.may_act_for(officer, unit)
    delegation = None if own else org.delegated(officer, unit, at)
    if not escalated and not own and delegation is None:
        who = _officers_of(org, unit, at)
        if escalated_to is not None:
            who.insert(1, f"the officer it was escalated to ({escalated_to})")
        raise NotAllowed(f"only {_either(who)} may {action} {step}; {_why(org, officer, unit, at)}")
    if assignee and assignee != officer and not escalated:
        above = (
            f"the officer it was escalated to ({escalated_to})"
            if escalated_to is not None
            else "an officer it is escalated to"
        )
        raise NotAllowed(
            f"{step} is claimed by {assignee}: only {assignee} or {above} may {action} it, "
            f"not {officer}"
        )
    over_claim = bool(assignee) and assignee != officer
    if escalated and (over_claim or not own):
        return {"acting": "escalation", "officer": officer, "level": escalation_level}
    return None if delegation is None else _delegation_data(officer, delegation)


def may_withdraw_for_agency(
    org: Organisation,
    officer: str | None,
    *,
    dossier: str,
    receiving_unit: str,
    resolving: Sequence[str],
) -> None:
    """Stop a dossier for the agency (status 8, Mẫu 05): the head or a deputy of the receiving
    unit or of a unit that resolves it (see :func:`resolving_units`). A stop notice is the
    leadership's to sign, so a delegation to an officer does not give it, and it needs an
    officer: the system never stops a dossier on its own."""
    units = [receiving_unit, *(u for u in resolving if u != receiving_unit)]
    who = "; ".join(f"{_name(org, u)}: {_leaders(org, u)}" for u in units)
    rule = (
        f"only the head or a deputy of the receiving unit or of a unit resolving it ({who}) "
        f"may stop dossier {dossier} for the agency (Mẫu 05)"
    )
    if officer is None:
        raise NotAllowed(f"{rule}: give the officer who stops it")
    o = known_officer(org, officer)
    if any(org.is_head_or_deputy(officer, u) for u in units):
        return
    raise NotAllowed(f"{rule}; {officer} is an officer of {_name(org, o.unit)}")


def may_migrate(
    org: Organisation,
    officer: str,
    *,
    dossier: str,
    receiving_unit: str,
    open_units: Sequence[str],
) -> None:
    """Move a dossier to another version of its procedure: the head or a deputy of the receiving
    unit, or of a unit with an open step of the dossier. It changes how the dossier goes on for
    every unit after it, on a decision a process designer cannot take alone: the leadership
    answerable for the dossier signs it, as a stop notice (a delegation does not give it)."""
    units = [*dict.fromkeys([receiving_unit, *open_units])]
    o = known_officer(org, officer)
    if any(org.is_head_or_deputy(officer, u) for u in units):
        return
    who = "; ".join(f"{_name(org, u)}: {_leaders(org, u)}" for u in units)
    raise NotAllowed(
        f"only the head or a deputy of the receiving unit or of a unit with an open step of "
        f"dossier {dossier} ({who}) may move it to another version of its procedure; "
        f"{officer} is an officer of {_name(org, o.unit)}"
    )


def may_withdraw_for_applicant(
    org: Organisation, officer: str | None, *, dossier: str, receiving_unit: str, at: datetime
) -> Acting:
    """Record the applicant's withdrawal (status 7): an officer of the receiving desk, which
    takes the applicant's request (one-stop: the applicant deals with the desk). No officer:
    the request came through the system (the portal). Returns the delegation the officer acts
    through, if that is what lets them."""
    if officer is None:
        return None
    known_officer(org, officer)
    if acts_for(org, officer, receiving_unit, at):
        return by_delegation(org, officer, receiving_unit, at)
    raise NotAllowed(
        f"only {_either(_officers_of(org, receiving_unit, at, desk=True))} may record the "
        f"applicant's withdrawal of dossier {dossier}; {_why(org, officer, receiving_unit, at)}"
    )


def may_pause(
    org: Organisation,
    officer: str,
    *,
    dossier: str,
    open_units: Sequence[str],
    receiving_unit: str,
    at: datetime,
) -> Acting:
    """Start a financial obligation, which pauses the legal clock (status 6): an officer of a
    unit with an open step of the dossier (the unit that found the obligation is working it),
    or of the receiving desk (which notifies the applicant and takes the receipt). Returns the
    delegation the officer acts through, if that is what lets them."""
    return _pause_rule(
        org,
        officer,
        "start a financial obligation (pausing the legal clock)",
        dossier,
        open_units,
        receiving_unit,
        at,
    )


def may_resume(
    org: Organisation,
    officer: str | None,
    *,
    dossier: str,
    open_units: Sequence[str],
    receiving_unit: str,
    at: datetime,
) -> Acting:
    """End a financial obligation: the same officers as :func:`may_pause`. No officer: the
    payment was recorded by the system (an online payment, the treasury's notice). Returns the
    delegation the officer acts through, if that is what lets them."""
    if officer is None:
        return None
    return _pause_rule(
        org, officer, "end the financial obligation", dossier, open_units, receiving_unit, at
    )


def may_receive_supplement(
    org: Organisation, officer: str | None, *, dossier: str, receiving_unit: str, at: datetime
) -> Acting:
    """Receive the applicant's supplement: an officer of the receiving desk, through which the
    request went (Decree 118/2025 Art 19(5)). No officer: it came through the portal. Returns
    the delegation the officer acts through, if that is what lets them."""
    if officer is None:
        return None
    known_officer(org, officer)
    if acts_for(org, officer, receiving_unit, at):
        return by_delegation(org, officer, receiving_unit, at)
    raise NotAllowed(
        f"only {_either(_officers_of(org, receiving_unit, at, desk=True))} may receive the "
        f"supplement of dossier {dossier}; {_why(org, officer, receiving_unit, at)}"
    )


def may_request_supplement(
    org: Organisation, officer: str, *, dossier: str, open_units: Sequence[str], at: datetime
) -> str:
    """Ask for a supplement: an officer of a unit with an open step of the dossier. Returns that
    unit (the first, in the order given), whose window and count apply; the capacity the
    officer acts in for it is :func:`by_delegation`'s."""
    o = known_officer(org, officer)
    for unit in open_units:
        if acts_for(org, officer, unit, at):
            return unit
    units = ", ".join(_name(org, u) for u in dict.fromkeys(open_units)) or "none"
    raise NotAllowed(
        f"only officers of a unit with an open step of dossier {dossier} ({units}) may request a "
        f"supplement; officer {officer} ({o.unit}) has no open step in it"
    )


def may_apologise(
    org: Organisation,
    officer: str,
    *,
    dossier: str,
    at_fault: Sequence[tuple[str, str]],
) -> str:
    """Sign the apology with a new appointment (Mẫu 04, Decree 118/2025 Art 19(6)): the head or
    a deputy of a unit at fault, given as (unit, why) in order (see
    :func:`lienthong.engine.accountability.apology_units`). The letter is the leadership's to
    sign, so a delegation does not give it. Returns the unit the officer signs for (the first
    unit at fault they lead); the refusal names every unit at fault, why, and its leaders."""
    o = known_officer(org, officer)
    for unit, _why in at_fault:
        if org.is_head_or_deputy(officer, unit):
            return unit
    who = "; ".join(f"{_name(org, u)}: {why}; signed by {_leaders(org, u)}" for u, why in at_fault)
    led = [u.code for u in org.units.values() if org.is_head_or_deputy(officer, u.code)]
    role = (
        f"leads {', '.join(_name(org, u) for u in led)}"
        if led
        else f"is an officer of {_name(org, o.unit)}"
    )
    raise NotAllowed(
        f"apologise {dossier}: the apology (Mẫu 04) is signed by the head or a deputy of the "
        f"unit at fault ({who}); {officer} {role}, which is not at fault"
    )


def check_routing(org: Organisation, role: str, unit: str) -> None:
    """A lane role may be routed only to a unit that holds it: routing chooses among the units
    that do the work, it does not hand work to a unit the organisation does not give it."""
    u = org.unit(unit)
    if role in u.roles:
        return
    holders = ", ".join(_name(org, h.code) for h in org.units_with_role(role))
    raise InvalidData(
        f"routing: role {role!r} cannot go to {_name(org, unit)}, which does not hold it; "
        + (f"units that hold it: {holders}" if holders else "no unit holds it")
    )


# -- messages -----------------------------------------------------------------------------------
def _pause_rule(
    org: Organisation,
    officer: str,
    what: str,
    dossier: str,
    open_units: Sequence[str],
    receiving_unit: str,
    at: datetime,
) -> Acting:
    """The rule of :func:`may_pause` and :func:`may_resume`: no capacity to record if the
    officer is one of a unit's own, else the delegation for the first unit that lends it."""
    o = known_officer(org, officer)
    units = [*dict.fromkeys([*open_units, receiving_unit])]
    if any(org.may_act_for(officer, u) for u in units):
        return None
    for u in units:
        acting = by_delegation(org, officer, u, at)
        if acting is not None:
            return acting
    open_text = ", ".join(_name(org, u) for u in dict.fromkeys(open_units)) or "none"
    raise NotAllowed(
        f"only officers of a unit with an open step of dossier {dossier} ({open_text}) or of its "
        f"receiving desk {_name(org, receiving_unit)}, or an officer delegated to act for one of "
        f"them, may {what}; {officer} is an officer of {_name(org, o.unit)}"
    )


def _name(org: Organisation, code: str) -> str:
    return f"{code} ({org.unit(code).name})"


def _leaders(org: Organisation, code: str) -> str:
    u = org.unit(code)
    return ", ".join([*([u.head] if u.head else []), *u.deputies]) or "no head or deputy listed"


def _officers_of(org: Organisation, unit: str, at: datetime, *, desk: bool = False) -> list[str]:
    """``officers of U (name)`` and ``an officer delegated to act for it``, the delegates in
    force at ``at`` named: the two ways of belonging to a unit's work."""
    now = [d.to_officer for d in org.delegations_for(unit, at)]
    return [
        f"officers of {'the receiving desk ' if desk else ''}{_name(org, unit)}",
        "an officer delegated to act for it (ủy quyền"
        + (f"; in force now: {', '.join(now)})" if now else ")"),
    ]


def _why(org: Organisation, officer: str, unit: str, at: datetime) -> str:
    """Why this officer is not among them: their unit, and what they might think entitles them."""
    o = org.officer(officer)
    above = [a for a in org.ancestors(unit) if org.is_head_or_deputy(officer, a)]
    if above:
        out = (
            f"{officer} leads {_name(org, above[0])}, above {unit}: leading a unit above gives "
            "no right to act on its work without an escalation or a delegation"
        )
    else:
        out = f"{officer} is an officer of {_name(org, o.unit)}"
    lapsed = [d for d in org.delegations if d.to_officer == officer and d.unit == unit]
    if lapsed:
        out += f"; the delegation {lapsed[0].describe()} is not in force at {at.isoformat()}"
    return out


def _either(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
