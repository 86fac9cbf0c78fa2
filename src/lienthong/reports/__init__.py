"""What a province reads and files, built from the store (never from a running workflow): the
process control sheet (Mẫu 06) today; statistics and the other forms of Circular 03/2025 next."""

from lienthong.reports.sheet import ControlSheet, SheetRow, control_sheet

__all__ = ["ControlSheet", "SheetRow", "control_sheet"]
