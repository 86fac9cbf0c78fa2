"""A form as printable HTML (Jinja2, the templates shipped in ``forms/templates``) and as PDF
(WeasyPrint, from that HTML).

The HTML is one self-contained file: its style sheet (``forms.css``, with the A4/A5 ``@page``
rules) is inlined, so it prints from a browser as it renders in WeasyPrint. WeasyPrint is
imported only when a PDF is asked for: it is slow to import and needs Pango on the machine.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from lienthong.errors import FormError
from lienthong.forms import vn
from lienthong.forms.specs import Form

#: The CSS class of each page size (``forms.css`` gives each its ``@page``).
PAPER = {"A5": "a5", "A4": "a4", "A4 landscape": "landscape"}


@cache
def environment() -> jinja2.Environment:
    """The templates' environment: autoescaped HTML, the Vietnamese filters of
    :mod:`lienthong.forms.vn`, and an error for any field a template names that a page lacks
    (a misspelt field must not print as an empty line)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lienthong.forms", "templates"),
        autoescape=jinja2.select_autoescape(("html", "html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(vn.FILTERS)
    env.globals["blank"] = vn.BLANK
    return env


def to_html(form: Form) -> str:
    """The form as one HTML document, every page a ``<section class="form">``."""
    template = environment().get_template(f"mau{form.number}.html.j2")
    context: dict[str, Any] = {
        "spec": form.spec,
        "dossier": form.dossier,
        "pages": form.pages,
        "paper": PAPER[form.spec.page],
    }
    return template.render(context)


def to_pdf(form: Form, html: str | None = None) -> bytes:
    """The form as PDF bytes, rendered by WeasyPrint from :func:`to_html` (or ``html``)."""
    try:
        import weasyprint
    except (ImportError, OSError) as e:  # OSError: Pango or its libraries are missing
        raise FormError(
            f"{form.spec.label}: cannot write PDF: WeasyPrint is not usable here ({e}); "
            "install it with its system libraries (Pango), or use --format html"
        ) from None
    document = weasyprint.HTML(string=html if html is not None else to_html(form))
    pdf = document.write_pdf()
    assert pdf is not None  # write_pdf() without a target returns the bytes
    return bytes(pdf)
