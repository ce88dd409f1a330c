"""docs/features.md, generated from the registry: ``python -m fraudml.features.docs``."""

from __future__ import annotations

import sys
from pathlib import Path

from fraudml.entities import ENTITIES
from fraudml.features.registry import FEATURE_SET_VERSION, FEATURES

HEADER = """# Profile features / 画像特征

Generated from `src/fraudml/features/registry.py` by `python -m fraudml.features.docs`
(feature set version {version}); a test fails when this file is out of date.

A profile holds one row per entity seen in the window `[FROM, UNTIL)` on `admit_time`.
Only claims admitted in the window are used, with two look-backs: trace codes, where a fee
line counts as repeated when its code was settled on an earlier line of any claim admitted
before `UNTIL`, and a doctor's practice (family `practice`), counted over the 365 days up
to `UNTIL`: a breach stays evidence after the month it was billed in. Features marked
*peer* also get `<name>__peer_median` (the median of the peer group) and `<name>__peer_z`,
a robust z-score against it
(`src/fraudml/features/peers.py`). Features marked *IF* are read by the isolation
forest; the others (network position, case mix, spread of amounts) by the supervised
model only. Features that need a table the dataset lacks are not
computed and are listed in `profiles.json` (never zero-filled): a table the dataset
lacks (`claim_items`, `claim_codes`, `chronic_registrations`, `doctors`), an optional
column it leaves empty (`doctors.registered_departments`, `doctors.suspended_from`), or
times of day, when every claim time is midnight (sources with dates only).

`make profiles` also runs the rule base ([rules.md](rules.md)) and adds to every profile
`rule_definite_hits`, `rule_severity_score` (hits weighted by severity: high 1, medium
0.6, low 0.3, suspicious hits half) and, per rule family, `rule_<family>_hits` and
`rule_<family>_amount` (hits and violation amounts of the entity's claims; 0 where no
rule fired), named in `profiles.json`; `ARGS="rules.join=false"` leaves them out.
"""


def render() -> str:
    parts = [HEADER.format(version=FEATURE_SET_VERSION)]
    for entity in ("patient", "provider", "doctor", "stay", "visit"):
        groups = " × ".join(ENTITIES[entity].peer_groups)
        parts.append(f"\n## {entity} (peers: {groups})\n")
        parts.append("| feature | 中文 | English | unit | family | peer | IF | needs |")
        parts.append("|---|---|---|---|---|---|---|---|")
        for f in FEATURES:
            if f.entity == entity:
                parts.append(
                    f"| `{f.name}` | {f.zh} | {f.en} | {f.unit} | {f.family} | "
                    f"{'yes' if f.peer else ''} | {'yes' if f.anomaly else ''} | "
                    f"{', '.join(f.needs)} |"
                )
    return "\n".join(parts) + "\n"


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/features.md")
    target.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
