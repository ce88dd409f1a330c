"""A group lead (团伙) as the report shows it: its members table, its drawing (pure
geometry, labels escaped by the template) and the claims proving its co-visits."""

from __future__ import annotations

import math
from collections.abc import Collection

import pandas as pd

#: a group lead's patients drawn (those with the most days together), member rows listed
#: and proof rows shown in the HTML (the spreadsheet and the parquet files hold them all)
MAX_DRAWN = 60
MAX_MEMBER_ROWS = 200
MAX_PROOF_ROWS = 50
#: a member at this risk or more is drawn as flagged (as the group's reasons count them)
FLAGGED = 0.5


def parse_links(links: object, providers: Collection[str] = ()) -> list[tuple[str, int]]:
    """A member's ``links`` (``provider:days`` pairs joined by ``;``) as pairs. Provider
    ids are untrusted and may hold ``;`` or ``:`` themselves: pieces are joined until
    they name one of the group's ``providers`` (when given)."""
    if not isinstance(links, str) or not links:
        return []
    out: list[tuple[str, int]] = []
    buf: list[str] = []
    for piece in links.split(";"):
        buf.append(piece)
        pid, sep, days = ";".join(buf).rpartition(":")
        if sep and days.isdigit() and (not providers or pid in providers):
            out.append((pid, int(days)))
            buf = []
    for piece in buf:  # a provider the group does not list: read the pieces as they are
        pid, sep, days = piece.rpartition(":")
        if sep and days.isdigit():
            out.append((pid, int(days)))
    return out


def _day_text(value: object) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    if pd.isna(value):  # type: ignore[arg-type]
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%d")  # type: ignore[arg-type]


def _time_text(value: object) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    if pd.isna(value):  # type: ignore[arg-type]
        return ""
    return str(pd.Timestamp(value))  # type: ignore[arg-type]


def _number(value: object, default: float = float("nan")) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) else out


def _label(text: str, size: int = 18) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _text_width(text: str) -> float:
    """Roughly how wide ``text`` is at font size 10 (CJK characters are square)."""
    return sum(10.0 if ord(c) >= 0x2E80 else 6.2 for c in text)


def _members(frame: pd.DataFrame | None) -> tuple[list[dict], list[dict]]:
    """A group's patients and providers, each sorted by days together (most first), then
    id; every patient with its links."""
    if frame is None or not len(frame):
        return [], []
    records = frame.to_dict("records")
    providers = [
        {"id": str(r.get("member_id")), "days": int(_number(r.get("days"), 0.0))}
        for r in records
        if r.get("member_type") == "provider"
    ]
    known = {q["id"] for q in providers}
    patients = [
        {
            "id": str(r.get("member_id")),
            "risk": _number(r.get("risk")),
            "days": int(_number(r.get("days"), 0.0)),
            "links": sorted(parse_links(r.get("links"), known), key=lambda x: (-x[1], x[0])),
        }
        for r in records
        if r.get("member_type") == "patient"
    ]
    patients.sort(key=lambda x: (-x["days"], x["id"]))
    providers.sort(key=lambda x: (-x["days"], x["id"]))
    return patients, providers


def _edge_width(days: int, most: int) -> float:
    """A link's stroke width: rising with its days together, 5 at the group's most."""
    return round(0.8 + 4.2 * days / max(most, 1), 2)


def group_drawing(
    patients: list[dict], providers: list[dict], t: dict[str, str], max_drawn: int = MAX_DRAWN
) -> dict | None:
    """The geometry of a group's picture: patients (the first ``max_drawn`` by days
    together) evenly on a circle, grouped by the provider they arrive at most; the
    providers they link to on an inner ring (or in the middle when there is one), each
    near its patients; a line per patient–provider link, as wide as its days together.
    Pure geometry, the same for the same members; labels are escaped by the template."""
    if not patients and not providers:
        return None
    shown = patients[:max_drawn]
    linked = {pid for p in shown for pid, _ in p["links"]}
    drawn = [q for q in providers if q["id"] in linked] if shown else list(providers)
    order = {q["id"]: k for k, q in enumerate(drawn)}

    def main(p: dict) -> int:
        here = [(-d, order[pid]) for pid, d in p["links"] if pid in order]
        return min(here)[1] if here else len(order)

    ring = sorted(shown, key=lambda p: (main(p), -p["days"], p["id"]))
    n, m = len(ring), len(drawn)
    radius = max(90.0, n * 22 / (2 * math.pi))
    longest = max([_text_width(_label(p["id"])) for p in ring], default=0.0)
    margin = 20 + longest
    width = round(max(520.0, 2 * (radius + margin)))
    cx, cy = width / 2, margin + radius + 10
    angles = [-math.pi / 2 + 2 * math.pi * i / n for i in range(n)]
    at_patient: dict[str, tuple[float, float]] = {}
    at_provider: dict[str, tuple[float, float]] = {}
    patients_out = []
    for p, a in zip(ring, angles, strict=True):
        x, y = cx + radius * math.cos(a), cy + radius * math.sin(a)
        at_patient[p["id"]] = (x, y)
        lx, ly = cx + (radius + 11) * math.cos(a), cy + (radius + 11) * math.sin(a)
        left = math.cos(a) < -1e-9
        risk = p["risk"]
        patients_out.append(
            {
                "x": round(x, 1),
                "y": round(y, 1),
                "lx": round(lx, 1),
                "ly": round(ly, 1),
                "rotate": round(math.degrees(a) + (180 if left else 0), 1),
                "anchor": "end" if left else "start",
                "label": _label(p["id"]),
                "fill": (
                    "#999999" if math.isnan(risk) else "#c0392b" if risk >= FLAGGED else "#4f86c6"
                ),
                "title": f"{p['id']} · {t['risk']} "
                + ("—" if math.isnan(risk) else f"{risk:.2f}")
                + f" · {t['together']} {p['days']}",
            }
        )
    # each provider near the patients linking to it (circular mean, weighted by days),
    # the providers then spread evenly on the inner ring in that order
    target = {}
    for k, q in enumerate(drawn):
        sx = sy = 0.0
        for p, a in zip(ring, angles, strict=True):
            for pid, d in p["links"]:
                if pid == q["id"]:
                    sx, sy = sx + d * math.cos(a), sy + d * math.sin(a)
        mean = math.atan2(sy, sx) if (sx or sy) else -math.pi / 2 + 2 * math.pi * k / max(m, 1)
        target[q["id"]] = (mean + math.pi / 2) % (2 * math.pi)
    placed = sorted(drawn, key=lambda q: (round(target[q["id"]], 9), order[q["id"]]))
    inner = 0.0 if m == 1 else radius * 0.42
    base = target[placed[0]["id"]] - math.pi / 2 if placed else 0.0
    providers_out = []
    for j, q in enumerate(placed):
        a = base + 2 * math.pi * j / max(m, 1)
        x, y = cx + inner * math.cos(a), cy + inner * math.sin(a)
        at_provider[q["id"]] = (x, y)
        providers_out.append(
            {
                "x": round(x, 1),
                "y": round(y, 1),
                "rx": round(x - 8, 1),
                "ry": round(y - 8, 1),
                "ly": round(y + 19, 1),
                "label": _label(q["id"]),
                "title": f"{q['id']} · {t['together']} {q['days']}",
            }
        )
    most = max([d for p in ring for pid, d in p["links"] if pid in order], default=1)
    edges = []
    for p in ring:
        x1, y1 = at_patient[p["id"]]
        for pid, d in p["links"]:
            if pid not in order:
                continue
            x2, y2 = at_provider[pid]
            edges.append(
                {
                    "x1": round(x1, 1),
                    "y1": round(y1, 1),
                    "x2": round(x2, 1),
                    "y2": round(y2, 1),
                    "width": _edge_width(d, most),
                    "days": d,
                    "title": f"{p['id']} — {pid}: {t['together']} {d}",
                }
            )
    legend_y = round(cy + radius + margin + 6)
    left_patients, left_providers = len(patients) - n, len(providers) - m
    return {
        "width": width,
        "height": legend_y + 40,
        "legend_y": legend_y,
        "patients": patients_out,
        "providers": providers_out,
        "edges": edges,
        "thin": _edge_width(1, most),
        "thick": _edge_width(most, most),
        "edge_legend": t["legend_edge"].format(low=1, high=most),
        "left_out": (
            t["drawn_left"].format(shown=n, patients=left_patients, providers=left_providers)
            if left_patients or left_providers
            else ""
        ),
    }


def group_view(
    members: pd.DataFrame | None,
    proof: pd.DataFrame | None,
    t: dict[str, str],
    max_drawn: int = MAX_DRAWN,
    max_members: int = MAX_MEMBER_ROWS,
    max_proof: int = MAX_PROOF_ROWS,
) -> dict | None:
    """What the report shows of one group lead: its members table (patients with risk,
    days together and links, then the providers they gather at), its drawing and the
    first ``max_proof`` rows of its proof."""
    patients, providers = _members(members)
    proof = proof if proof is not None else pd.DataFrame()
    if not patients and not providers and not len(proof):
        return None
    linked: dict[str, int] = {}
    for p in patients:
        for pid, _ in p["links"]:
            linked[pid] = linked.get(pid, 0) + 1
    rows = [
        {
            "type": t["patient"],
            "id": p["id"],
            "risk": "" if math.isnan(p["risk"]) else f"{p['risk']:.2f}",
            "days": p["days"],
            "links": ", ".join(f"{pid} ({d})" for pid, d in p["links"]),
        }
        for p in patients[:max_members]
    ] + [
        {
            "type": t["provider"],
            "id": q["id"],
            "risk": "",
            "days": q["days"],
            "links": t["linked"].format(n=linked.get(q["id"], 0)),
        }
        for q in providers
    ]
    left = max(0, len(patients) - max_members)
    shown = [
        {
            "day": _day_text(e.get("day")),
            "provider_id": "" if e.get("provider_id") is None else str(e.get("provider_id")),
            "patient_id": "" if e.get("patient_id") is None else str(e.get("patient_id")),
            "claim_id": "" if e.get("claim_id") is None else str(e.get("claim_id")),
            "admit_time": _time_text(e.get("admit_time")),
        }
        for e in proof.head(max_proof).to_dict("records")
    ]
    return {
        "count": t["members_count"].format(patients=len(patients), providers=len(providers)),
        "members": rows,
        "members_left": t["members_left"].format(n=left) if left else "",
        "drawing": group_drawing(patients, providers, t, max_drawn),
        "proof": shown,
        "proof_count": len(proof),
        "proof_left": (
            t["proof_left"].format(n=len(proof) - len(shown)) if len(proof) > len(shown) else ""
        ),
    }


def by_group(frame: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    if frame is None or not len(frame) or "group_id" not in frame:
        return {}
    return {str(k): g for k, g in frame.groupby(frame.group_id.astype(str), sort=False)}
