"""The PDF case pack of a provider lead (稽核线索包) for on-site inspections (飞行检查):
its card, its evidence claims and their fee lines, printed by WeasyPrint from the same
HTML template as the report."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fraudml.errors import SettingError
from fraudml.i18n import money_unit, text, ui
from fraudml.report.template import STYLE, TEMPLATE, environment

#: a case pack's file name: its rank and the provider id made safe for a file system
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def pack_name(rank: object, provider_id: str) -> str:
    """``provider-001-H12.pdf``; an id's unsafe characters become ``_`` (ids are untrusted)."""
    safe = _UNSAFE.sub("_", str(provider_id)).strip("._")[:40] or "id"
    return f"provider-{int(rank):03d}-{safe}.pdf"


def casepack_html(
    card: dict,
    lang: str,
    window: str,
    generated: str,
    currency: str = "CNY",
    pseudonymised: bool = False,
) -> str:
    """The case pack's HTML: the report's page head and the lead's card (with its fee lines)."""
    t = ui(lang)
    title = f"{text('casepack_title', lang)} · {card['type_name']} {card['entity_id']}"
    return (
        environment()
        .from_string(TEMPLATE)
        .render(
            t=t,
            title=title,
            style=STYLE,
            lang=lang,
            s=None,
            index=[],
            cards=[card],
            deductions=[],
            money=money_unit(lang, currency),
            window=window,
            dataset="",
            generated=generated,
            pseudonymised=pseudonymised,
        )
    )


def check_pdf_printer() -> None:
    """Stop before any work when case packs are asked for and WeasyPrint cannot print
    (its Pango libraries are Debian packages, not Python ones)."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:
        raise SettingError(
            f"PDF case packs need WeasyPrint and Pango, which cannot be loaded ({exc}). "
            "Install Debian's libpango-1.0-0 and libpangoft2-1.0-0 (`make browser` does), "
            "or score without case packs: ARGS=report.case_packs=0"
        ) from None


def write_pdf(html: str, path: Path) -> None:
    """``html`` printed to ``path`` as an A4 PDF (nothing fetched: the page is self-contained)."""
    # WeasyPrint narrates every layout step at INFO (its user-agent style sheets already
    # on import): the scoring log keeps to its own
    for name in ("weasyprint", "weasyprint.progress", "fontTools"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from weasyprint import HTML

    def refuse(url: str, *args, **kwargs):
        raise ValueError(f"the case pack fetches nothing ({url[:60]})")

    HTML(string=html, url_fetcher=refuse).write_pdf(path)
