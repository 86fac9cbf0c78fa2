"""Text in an SVG picture without a font engine: how wide a line is, and how to wrap and fit it.

An SVG viewer lays its text out itself, so lienthong only needs to know, before it writes the
picture, where to break a name into lines and how small to set it so that it stays inside its
shape. The widths below are DejaVu Sans's advances (in thousandths of the font size), measured
once: it is the sans-serif face on most Linux machines, and wider than Arial, Liberation Sans and
Helvetica, so text measured with it also fits where one of those is used. A Vietnamese letter
with diacritics (ế, ở, ự) is as wide as its base letter in these faces: it is measured by the
base letter of its canonical decomposition; đ and Đ have none and are in the table.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import attrs

_CHARS = (
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
    "abcdefghijklmnopqrstuvwxyz{|}~đĐ–—…·×→✓"
)
_REGULAR = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636,
    636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698,
    770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732,
    684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635, 615, 352, 635,
    634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592, 592,
    525, 636, 337, 636, 838, 635, 775, 500, 1000, 1000, 318, 838, 838, 838,
)  # fmt: skip
_BOLD = (
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696,
    696, 696, 696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734,
    830, 683, 683, 821, 837, 372, 372, 775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812,
    774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716, 678, 435, 716,
    712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924, 645, 652,
    582, 712, 365, 712, 838, 716, 838, 500, 1000, 1000, 380, 838, 838, 838,
)  # fmt: skip
_WIDTHS = {False: dict(zip(_CHARS, _REGULAR, strict=True)),
           True: dict(zip(_CHARS, _BOLD, strict=True))}  # fmt: skip
#: A letter outside the table (Cyrillic, Greek, ...): about an average letter; a wide one
#: (CJK) a full em.
_OTHER, _WIDE = 640, 1000
#: What a line is measured wider than its advances add up to: a renderer that hints font metrics
#: (cairo, at a small size) rounds each advance to a whole pixel, which makes a line of 11-pixel
#: text about 3% wider.
SLACK = 1.04
#: Line height, as a multiple of the font size (bpmn-js uses 1.2).
LINE_HEIGHT = 1.2
ELLIPSIS = "…"


@lru_cache(maxsize=4096)
def _char_width(ch: str, bold: bool) -> int:
    table = _WIDTHS[bold]
    if ch in table:
        return table[ch]
    if unicodedata.combining(ch):
        return 0
    base = unicodedata.normalize("NFD", ch)[0]
    if base in table:
        return table[base]
    return _WIDE if unicodedata.east_asian_width(ch) in ("W", "F") else _OTHER


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """The width of ``text`` on one line at font size ``size`` (in the same unit)."""
    return sum(_char_width(ch, bold) for ch in text) * size * SLACK / 1000


def wrap(text: str, width: float, size: float, *, bold: bool = False) -> list[str]:
    """``text`` broken into lines no wider than ``width`` where it can be: at spaces, and after
    a hyphen, dash or slash; a word wider than a line on its own is cut."""
    lines: list[str] = []

    def flush(line: str) -> None:
        # A word wider than the line on its own is cut where the line ends.
        line = line.rstrip()
        while text_width(line, size, bold=bold) > width and len(line) > 1:
            cut = _cut(line, width, size, bold)
            lines.append(line[:cut])
            line = line[cut:]
        lines.append(line)

    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in _words(paragraph):
            candidate = line + word
            if not line or text_width(candidate.rstrip(), size, bold=bold) <= width:
                line = candidate
                continue
            flush(line)
            line = word.lstrip()
        flush(line)
    return lines


def _words(text: str) -> list[str]:
    """The pieces a line may break after: each word with the spaces or dash that follow it."""
    out: list[str] = []
    piece = ""
    for ch in " ".join(text.split()):
        piece += ch
        if ch == " " or (ch in "-–—/" and len(piece) > 1):
            out.append(piece)
            piece = ""
    if piece:
        out.append(piece)
    return out


def _cut(line: str, width: float, size: float, bold: bool) -> int:
    used = 0.0
    for i, ch in enumerate(line):
        used += _char_width(ch, bold) * size * SLACK / 1000
        if used > width:
            return max(i, 1)
    return len(line)


@attrs.frozen
class Fitted:
    """Text set to fit a box: its lines, its font size and whether it had to be cut short."""

    lines: tuple[str, ...]
    size: float
    cut: bool

    @property
    def height(self) -> float:
        return len(self.lines) * self.size * LINE_HEIGHT


def fit(
    text: str,
    width: float,
    height: float,
    *,
    size: float = 12,
    smallest: float = 9,
    bold: bool = False,
) -> Fitted:
    """``text`` wrapped to ``width``, at the largest size from ``size`` down to ``smallest`` at
    which its lines fit in ``height``; at the smallest, the lines that do not fit are dropped and
    the last one kept ends with an ellipsis (the full text is then for a tooltip)."""
    width, height = max(width, 1.0), max(height, 1.0)
    sizes = [size]
    while sizes[-1] - 0.5 >= smallest:
        sizes.append(sizes[-1] - 0.5)
    # First the largest size at which no word has to be cut, then any at which the lines fit.
    for whole_words in (True, False):
        for current in sizes:
            lines = wrap(text, width, current, bold=bold)
            if whole_words and any(
                text_width(w.strip(), current, bold=bold) > width for w in _words(text)
            ):
                continue
            if len(lines) * current * LINE_HEIGHT <= height + 0.01:
                return Fitted(tuple(lines), current, cut=False)
    current = sizes[-1]
    lines = wrap(text, width, current, bold=bold)
    room = max(int((height + 0.01) // (current * LINE_HEIGHT)), 1)
    kept = lines[:room]
    last = kept[-1]
    while last and text_width(last + ELLIPSIS, current, bold=bold) > width:
        last = last[:-1]
    kept[-1] = last.rstrip() + ELLIPSIS
    return Fitted(tuple(kept), current, cut=True)


def shorten(text: str, width: float, size: float, *, bold: bool = False) -> str:
    """``text`` on one line, cut with an ellipsis if it is wider than ``width``."""
    if text_width(text, size, bold=bold) <= width:
        return text
    while text and text_width(text + ELLIPSIS, size, bold=bold) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS
