"""Hypothesis strategies for organisations: random unit hierarchies (several levels, one or more
top units), each unit with a head, deputies and officers, and the lane roles a procedure needs.

An escalation climbs from a step's unit through its parents to the top, one level per working
day, to each unit's head (:mod:`lienthong.engine.tick`): an organisation drawn here is valid for
that ladder — a forest of units, no deeper than ``max_depth``, every unit with a head unless
``headless`` allows otherwise, every head and deputy an officer of their own unit, and every
role of ``roles`` held by exactly one unit, so that a procedure's lanes resolve without a
routing.

hypothesis is imported when a strategy is first called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lienthong.org import Officer, Organisation, Unit
from lienthong.testing.calendars import _st

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["DEMO_ROLES", "depth", "organisations"]

#: The lane roles of the sample procedures in ``processes/``, which the demo organisation holds:
#: the roles :func:`organisations` and :func:`~lienthong.testing.procedures` use by default,
#: the desk's first.
DEMO_ROLES = (
    "one-stop-desk",
    "commune-civil-status",
    "police-residence",
    "social-insurance",
    "land-registration-office",
    "tax-office",
    "archive-centre",
)

_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô")
_GIVEN = ("An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Khánh", "Linh", "Minh", "Thảo")


def depth(org: Organisation, code: str) -> int:
    """How many units lie above ``code``: 0 for a top unit."""
    return len(org.ancestors(code))


def organisations(
    *,
    roles: Sequence[str] = DEMO_ROLES,
    min_units: int = 1,
    max_units: int = 12,
    max_depth: int = 4,
    max_roots: int = 3,
    max_deputies: int = 2,
    max_officers: int = 3,
    headless: bool = False,
) -> SearchStrategy[Organisation]:
    """Random :class:`~lienthong.Organisation` objects.

    :param roles: lane roles, each given to exactly one unit (a unit may hold several).
    :param min_units: fewest units (at least 1); ``max_units``: most (at most 99).
    :param max_depth: most levels, the top units' included (a unit has at most
        ``max_depth - 1`` units above it).
    :param max_roots: most top units (units with no parent: a province and the vertical
        agencies, ngành dọc).
    :param max_deputies: most deputies (cấp phó) per unit; ``max_officers``: most other officers.
    :param headless: allow units with no head (the ladder then skips naming one at that level).

    Unit codes look like the demo's (``000.LL.NN.H99``: level, number); officer ids are
    ``cb<unit>.<n>`` with ``cb<unit>.1`` the head.
    """
    st = _st()
    if not 1 <= min_units <= max_units <= 99:
        raise ValueError("organisations: need 1 <= min_units <= max_units <= 99")
    if max_depth < 1 or max_roots < 1:
        raise ValueError("organisations: max_depth and max_roots must be at least 1")
    if max_depth == 1 and min_units > max_roots:
        raise ValueError(
            "organisations: with max_depth=1 every unit is a top unit: "
            "min_units cannot exceed max_roots"
        )
    role_list = list(dict.fromkeys(roles))

    @st.composite
    def build(draw: Any) -> Organisation:
        # With one level, every unit is a top unit: no more than max_roots of them.
        n = draw(st.integers(min_units, max_units if max_depth > 1 else min(max_units, max_roots)))
        levels: list[int] = [0]
        parents: list[int | None] = [None]
        for i in range(1, n):
            roots = parents.count(None)
            under = [j for j in range(i) if levels[j] < max_depth - 1]
            # -1 stands for "a new top unit", allowed while there are fewer than max_roots.
            choices = under + ([-1] if roots < max_roots else [])
            j = draw(st.sampled_from(choices))
            parents.append(None if j == -1 else j)
            levels.append(0 if j == -1 else levels[j] + 1)
        codes = [f"000.{levels[i]:02d}.{i + 1:02d}.H99" for i in range(len(levels))]
        holder = {r: draw(st.integers(0, len(codes) - 1)) for r in role_list}
        units: list[Unit] = []
        officers: list[Officer] = []
        for i, code in enumerate(codes):
            has_head = not headless or draw(st.booleans())
            deputies = draw(st.integers(0, max_deputies))
            others = draw(st.integers(0 if has_head or deputies else 1, max_officers))
            head = f"cb{i + 1:02d}.1" if has_head else None
            ids = [f"cb{i + 1:02d}.{k + 1}" for k in range(int(has_head) + deputies + others)]
            deps = tuple(ids[int(has_head) : int(has_head) + deputies])
            for k, who in enumerate(ids):
                title = (
                    "Trưởng đơn vị"
                    if who == head
                    else "Phó trưởng đơn vị"
                    if who in deps
                    else "Chuyên viên"
                )
                name = f"{_FAMILY[(i + k) % 10]} Văn {_GIVEN[(3 * i + k) % 10]}"
                officers.append(Officer(id=who, name=name, unit=code, title=title))
            parent = parents[i]
            units.append(
                Unit(
                    code=code,
                    name=f"Đơn vị thử nghiệm số {i + 1} (cấp {levels[i] + 1})",
                    parent=None if parent is None else codes[parent],
                    roles=tuple(r for r in role_list if holder[r] == i),
                    head=head,
                    deputies=deps,
                )
            )
        return Organisation.build(units, officers)

    return build()
