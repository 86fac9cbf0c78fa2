"""Which lane roles are coordinating (cơ quan phối hợp, ``lienthong:coordinating``) in the
stored procedure versions, read from their BPMN lanes alone (no workflow, no SpiffWorkflow
parse): the ``units`` report counts a unit's coordinating steps as its own and says how many.
"""

from __future__ import annotations

from collections import defaultdict

import attrs
import sqlite_utils
from lxml import etree

from lienthong.bpmn.procedures import NS, PREFIX


def lanes_of(bpmn: bytes) -> dict[str, bool]:
    """Role -> coordinating, for the lanes of one BPMN file, in the file's order (a role a file
    cannot give: none)."""
    try:
        root = etree.fromstring(bpmn, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return {}  # the engine parsed it when it was loaded; a damaged copy counts nothing
    out: dict[str, bool] = {}
    for lane in root.iter(f"{{{NS['bpmn']}}}lane"):
        props: dict[str, str] = {}
        for flavour in ("camunda", "spiffworkflow"):
            for p in lane.xpath(
                f"./bpmn:extensionElements/{flavour}:properties/{flavour}:property",
                namespaces=NS,
            ):
                name = p.get("name", "")
                if name.startswith(PREFIX):
                    props[name[len(PREFIX) :]] = p.get("value", "")
        role = props.get("unit-role") or lane.get("id") or ""
        out[role] = props.get("coordinating", "false").lower() == "true"
    return out


@attrs.frozen
class RoleLanes:
    """The procedure versions in which a role's lane is coordinating, and those in which it
    leads (is not coordinating)."""

    coordinating: frozenset[str] = frozenset()
    lead: frozenset[str] = frozenset()


def role_lanes(db: sqlite_utils.Database) -> dict[str, RoleLanes]:
    """Role -> its lanes across the stored procedure versions. Read once per report: a
    province stores tens of versions, each a few tens of kilobytes."""
    coordinating: dict[str, set[str]] = defaultdict(set)
    lead: dict[str, set[str]] = defaultdict(set)
    for version, bpmn in db.conn.execute("SELECT version, bpmn FROM procedures"):
        for role, is_coordinating in lanes_of(bytes(bpmn)).items():
            (coordinating if is_coordinating else lead)[role].add(version)
    return {
        role: RoleLanes(frozenset(coordinating[role]), frozenset(lead[role]))
        for role in coordinating.keys() | lead.keys()
    }
