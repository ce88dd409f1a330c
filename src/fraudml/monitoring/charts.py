"""The report's charts as inline SVG (matplotlib, glyphs drawn as paths).

Text is drawn as paths, so the SVG holds no text node a browser could read as markup and
needs no font; Noto Sans CJK gives the Chinese glyphs. Mathtext is off: a ``$`` in a
provider's or item's name is drawn as it is, never parsed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.figure import Figure

STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"],
    "font.size": 9,
    "svg.fonttype": "path",
    # the same chart gives the same SVG (ids are hashes salted with this)
    "svg.hashsalt": "fraudml-monitor",
    "text.parse_math": False,
    "axes.unicode_minus": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
BLUE, GREY, RED = "#3b6ea5", "#9aa5b1", "#c0392b"


def ensure_cjk_font() -> bool:
    """Register the system's Noto Sans CJK with matplotlib when its font cache predates
    the font (a cache built before the font was installed never lists it). Whether a CJK
    font is available."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    if any(n.startswith("Noto Sans CJK") for n in names):
        return True
    found = False
    for path in font_manager.findSystemFonts():
        if "NotoSansCJK" in path.replace(" ", "") or "NotoSansSC" in path:
            font_manager.fontManager.addfont(path)
            found = True
    return found


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    out = buffer.getvalue()
    out = out[out.index("<svg") :]  # inline: no XML prolog or doctype
    # matplotlib keeps each drawn text as an (escaped) comment: drop them, so that no
    # name from the data reaches the page even as a comment
    return re.sub(r"<!--.*?-->", "", out, flags=re.S)


def _short(label: str, size: int = 18) -> str:
    return label if len(label) <= size else label[: size - 1] + "…"


def monthly_chart(
    months: Sequence[str],
    current: Sequence[float | None],
    last_year: Sequence[float | None],
    labels: tuple[str, str],
    unit: str,
) -> str:
    """Bars for the fund paid of each month, dots for the same month a year earlier."""
    ensure_cjk_font()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * len(months) + 1.5), 2.8))
        xs = range(len(months))
        ax.bar(xs, [v or 0.0 for v in current], color=BLUE, label=labels[0])
        points = [(x, v) for x, v in zip(xs, last_year, strict=True) if v is not None]
        if points:
            ax.plot(*zip(*points, strict=True), "o", color=RED, label=labels[1])
        ax.set_xticks(list(xs), list(months), rotation=45, ha="right")
        ax.set_ylabel(unit)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
        return _svg(fig)


def bar_chart(
    labels: Sequence[str], values: Sequence[float], unit: str, marked: Sequence[bool] = ()
) -> str:
    """Horizontal bars, largest on top; ``marked`` bars in red."""
    marked = list(marked) or [False] * len(values)
    ensure_cjk_font()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 0.28 * len(values) + 0.9))
        ys = list(range(len(values)))[::-1]
        ax.barh(ys, values, color=[RED if m else BLUE for m in marked])
        ax.set_yticks(ys, [_short(str(x)) for x in labels])
        ax.set_xlabel(unit)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        return _svg(fig)
