"""Case packs printed by two processes (issue 15): the same PDFs, byte for byte, as
printed one after the other here; a page that fails raises the error it raises here."""

from __future__ import annotations

import gc
import os

import pytest

from fraudml.report.casepack import PRINTERS, printers, printing, write_pdf


def _page(n: int) -> str:
    rows = "".join(f"<tr><td>C{i}</td><td>{i * 17.5:.2f}</td></tr>" for i in range(n))
    return f"<html><body><h1>稽核线索包 {n}</h1><table>{rows}</table></body></html>"


def test_packs_printed_by_two_processes_are_those_printed_here_byte_for_byte(tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    pages = [_page(n) for n in (3, 40, 7)]
    for i, html in enumerate(pages):
        write_pdf(html, here / f"{i}.pdf")
    with printing([(html, there / f"{i}.pdf") for i, html in enumerate(pages)], 2) as printed:
        printed()
    assert gc.get_freeze_count() == 0  # the objects frozen for the workers are let go
    for i in range(len(pages)):
        mine = (here / f"{i}.pdf").read_bytes()
        assert mine.startswith(b"%PDF") and (there / f"{i}.pdf").read_bytes() == mine
    # the block's end prints what it did not wait for, by either road
    for workers in (1, 2):
        late = tmp_path / f"late-{workers}.pdf"
        with printing([(pages[0], late)], workers):
            pass
        assert late.read_bytes() == (here / "0.pdf").read_bytes()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_pack_raises_the_first_error_in_order_as_printed_here(tmp_path, workers):
    ok = tmp_path / "ok.pdf"
    pages = [
        (_page(2), ok),
        (_page(2), tmp_path / "no-such-folder" / "a.pdf"),
        (_page(2), tmp_path / "nor-this-one" / "b.pdf"),
    ]
    with pytest.raises(FileNotFoundError) as failed, printing(pages, workers) as printed:
        printed()
    assert failed.value.filename == str(tmp_path / "no-such-folder" / "a.pdf")
    assert ok.read_bytes().startswith(b"%PDF")
    # an error in the block itself comes out as it is
    with pytest.raises(KeyError, match="report"), printing(pages[:1], workers):
        raise KeyError("report")
    assert gc.get_freeze_count() == 0


def test_packs_are_printed_here_when_there_is_one_or_one_core(monkeypatch):
    assert printers(1) == 1 and printers(0) == 1
    assert printers(10) == min(PRINTERS, len(os.sched_getaffinity(0)))
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})
    assert printers(10) == 1
