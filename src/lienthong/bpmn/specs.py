"""What lienthong reads from a process besides SpiffWorkflow's spec: its lanes and its steps."""

from __future__ import annotations

import attrs


@attrs.frozen
class Lane:
    """A lane: the unit role that works it."""

    id: str
    name: str
    role: str
    coordinating: bool = False


@attrs.frozen
class StepSpec:
    """One task of the process, as lienthong sees it."""

    id: str
    name: str
    kind: str  # user | service | script | other
    lane: str  # lane id
    role: str
    share_minutes: int = 0
    step_kind: str = "processing"
    required_fields: tuple[str, ...] = ()
    operation: str | None = None

    @property
    def is_step(self) -> bool:
        """User and service tasks become steps that someone (or a plugin) must close."""
        return self.kind in ("user", "service")
