"""The PDF case pack of a provider lead (稽核线索包) for on-site inspections (飞行检查):
its card, its evidence claims and their fee lines, printed by WeasyPrint from the same
HTML template as the report."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from fraudml.errors import SettingError
from fraudml.i18n import money_unit, text, ui
from fraudml.report.template import STYLE, TEMPLATE, environment

if TYPE_CHECKING:
    from jinja2 import Template

#: processes printing case packs at most (one per core of the 2-core machines scoring runs
#: on; WeasyPrint's layout is pure Python, so threads would not help)
PRINTERS = 2

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
    return _template().render(
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


@lru_cache(maxsize=1)
def _template() -> Template:
    """The report template compiled once (compiling it took ~0.05 s, per pack)."""
    return environment().from_string(TEMPLATE)


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


def printers(packs: int) -> int:
    """Processes to print ``packs`` case packs with: one per pack up to :data:`PRINTERS`
    and the cores this process may use; 1 prints them here, one after the other."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(PRINTERS, cores, packs))


@contextmanager
def printing(
    pages: Sequence[tuple[str, Path]], workers: int | None = None
) -> Iterator[Callable[[], None]]:
    """Print each ``(html, path)`` of ``pages`` by :func:`write_pdf` while the ``with``
    block does other work; the block is given a function that waits for them.

    With more than one worker (:func:`printers` when ``workers`` is ``None``) processes
    forked from this one print the pages from the start of the block; with one, this
    process prints them when the function is called. Either way they are printed when the
    block ends, and the PDFs are those :func:`write_pdf` prints, byte for byte. A failure
    raises the error printing that page raised, the first in ``pages``' order (as printing
    them one after the other would), from the function or at the end of the block; an
    error in the block stops the pages still waiting.
    """
    workers = printers(len(pages)) if workers is None else max(1, min(workers, len(pages)))
    # forking is safe on Linux only (macOS's system libraries are not fork-safe), and a
    # daemonic process (a pool's worker) may not start processes
    fork = sys.platform.startswith("linux") and not multiprocessing.current_process().daemon
    if workers <= 1 or not fork:
        left = list(pages)

        def print_here() -> None:
            while left:
                write_pdf(*left.pop(0))

        yield print_here
        print_here()
        return
    # forked, the workers start at once with WeasyPrint imported (a fresh interpreter
    # would spend ~1.5 s importing fraudml and WeasyPrint first). Frozen, the objects
    # they inherit are left out of their garbage collections: a scoring process tracks
    # ~650k objects, and each worker's full collections walked them (~0.45 s of CPU per
    # collection, every other pack) and copied the pages they touched
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(write_pdf, html, path) for html, path in pages]

            def wait() -> None:
                for future in futures:
                    future.result()

            try:
                yield wait
                wait()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        gc.unfreeze()
