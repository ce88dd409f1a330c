"""Rules as data: the national rule metadata, read from ``conf/rules/*.yaml``.

A rule file declares one family of rules::

    family: catalog
    name: {zh: 目录限定, en: Catalog restrictions}
    rules:
      - id: CAT-GENDER
        name: {zh: 限性别项目, en: Item restricted to the other gender}
        category: policy        # 政策 policy / 管理 management / 医疗 medical
        result: definite        # 明确违规 definite / 可疑 suspicious
        scene: [outpatient, inpatient, pharmacy]
        stage: post             # 事前 pre / 事中 in / 事后 post
        window: claim           # the time window the check looks at, in words
        severity: high          # high / medium / low
        basis: {zh: …, en: …}   # 违规依据: the policy the rule enforces
        check: line             # which compiled check (see fraudml.rulebase.checks)
        where: "cat_gender is not None and cat_gender != gender"
        message: {zh: "…{item_code}…", en: "…{item_code}…"}
        evidence: [item_code, gender]

Loading checks every field and names the file, the rule and the expected form when one
is wrong; an invalid rule base never half-loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CATEGORIES = {"policy": "政策", "management": "管理", "medical": "医疗"}
RESULTS = {"definite": "明确违规", "suspicious": "可疑"}
STAGES = {"pre": "事前", "in": "事中", "post": "事后"}
SEVERITIES = {"high": "严重", "medium": "一般", "low": "轻微"}
#: scenes and the visit types they cover
SCENES = {
    "outpatient": ("outpatient", "emergency", "outpatient_chronic", "other"),
    "inpatient": ("inpatient",),
    "pharmacy": ("pharmacy",),
}


class RuleSpecError(ValueError):
    """A rule file that does not follow the rule format; the message names file and rule."""


@dataclass(frozen=True)
class Text:
    zh: str
    en: str

    def __getitem__(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    family_name: Text
    name: Text
    category: str
    result: str
    scene: tuple[str, ...]
    stage: str
    window: str
    severity: str
    basis: Text
    check: str
    message: Text
    #: check-specific settings: thresholds, days, lists
    params: Mapping[str, Any] = field(default_factory=dict)
    where: str | None = None
    amount: str | None = None
    evidence: tuple[str, ...] = ()
    source: str = ""

    @property
    def visit_types(self) -> tuple[str, ...]:
        return tuple(v for s in self.scene for v in SCENES[s])


_REQUIRED = ("id", "name", "category", "result", "scene", "stage", "severity", "check")
_KNOWN = set(_REQUIRED) | {
    "window",
    "basis",
    "message",
    "params",
    "where",
    "amount",
    "evidence",
    "enabled",
}


def _text(value: Any, where: str, what: str) -> Text:
    if isinstance(value, str):
        return Text(value, value)
    if isinstance(value, Mapping) and {"zh", "en"} <= set(value):
        return Text(str(value["zh"]), str(value["en"]))
    raise RuleSpecError(f"{where}: {what} must be {{zh: …, en: …}}, got {value!r}")


def _choice(value: Any, allowed: Mapping[str, str], where: str, what: str) -> str:
    if value not in allowed:
        raise RuleSpecError(f"{where}: {what} is {value!r}; expected one of {', '.join(allowed)}")
    return str(value)


def parse_family(doc: Any, source: str, known_checks: Iterable[str]) -> list[Rule]:
    """Rules of one family document (the parsed YAML of one rule file)."""
    checks = set(known_checks)
    if not isinstance(doc, Mapping) or "family" not in doc or "rules" not in doc:
        raise RuleSpecError(f"{source}: expected a mapping with 'family', 'name' and 'rules'")
    family = str(doc["family"])
    family_name = _text(doc.get("name", family), source, "name")
    if not isinstance(doc["rules"], list):
        raise RuleSpecError(f"{source}: 'rules' must be a list")
    rules = []
    for i, raw in enumerate(doc["rules"]):
        where = f"{source}, rule #{i + 1}"
        if not isinstance(raw, Mapping):
            raise RuleSpecError(f"{where}: expected a mapping")
        if "id" in raw:
            where = f"{source}, rule {raw['id']}"
        missing = [k for k in _REQUIRED if k not in raw]
        if missing:
            raise RuleSpecError(f"{where}: missing {', '.join(missing)}")
        unknown = set(raw) - _KNOWN
        if unknown:
            raise RuleSpecError(
                f"{where}: unknown field(s) {', '.join(sorted(unknown))}; known: "
                f"{', '.join(sorted(_KNOWN))}"
            )
        if raw.get("enabled", True) is False:
            continue
        scene = raw["scene"] if isinstance(raw["scene"], list) else [raw["scene"]]
        for s in scene:
            _choice(s, {k: k for k in SCENES}, where, "scene")
        if raw["check"] not in checks:
            raise RuleSpecError(
                f"{where}: check is {raw['check']!r}; expected one of {', '.join(sorted(checks))}"
            )
        params = raw.get("params") or {}
        if not isinstance(params, Mapping):
            raise RuleSpecError(f"{where}: params must be a mapping")
        evidence = raw.get("evidence") or []
        if not isinstance(evidence, list):
            raise RuleSpecError(f"{where}: evidence must be a list of column names")
        name = _text(raw["name"], where, "name")
        rules.append(
            Rule(
                id=str(raw["id"]),
                family=family,
                family_name=family_name,
                name=name,
                category=_choice(raw["category"], CATEGORIES, where, "category"),
                result=_choice(raw["result"], RESULTS, where, "result"),
                scene=tuple(scene),
                stage=_choice(raw["stage"], STAGES, where, "stage"),
                window=str(raw.get("window", "")),
                severity=_choice(raw["severity"], SEVERITIES, where, "severity"),
                basis=_text(raw.get("basis", ""), where, "basis"),
                check=str(raw["check"]),
                message=_text(raw.get("message", raw["name"]), where, "message"),
                params=dict(params),
                where=None if raw.get("where") is None else str(raw["where"]),
                amount=None if raw.get("amount") is None else str(raw["amount"]),
                evidence=tuple(str(e) for e in evidence),
                source=source,
            )
        )
    return rules


def load_rules(paths: Iterable[str | Path], known_checks: Iterable[str]) -> list[Rule]:
    """Rules of every file (or every ``*.yaml`` of every folder) in ``paths``, in order.

    Raises
    ------
    RuleSpecError
        A file that is not a rule family, a rule missing metadata, a repeated rule id.
    """
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files += sorted(p.glob("*.yaml"))
        elif p.is_file():
            files.append(p)
        else:
            raise RuleSpecError(f"{p}: no such rule file or folder")
    checks = list(known_checks)
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for f in files:
        try:
            doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise RuleSpecError(f"{f}: not valid YAML ({exc})") from None
        for rule in parse_family(doc, str(f), checks):
            if rule.id in seen:
                raise RuleSpecError(f"{f}: rule id {rule.id} repeats one in {seen[rule.id]}")
            seen[rule.id] = str(f)
            rules.append(rule)
    if not rules:
        raise RuleSpecError(f"no rules found in {', '.join(str(f) for f in files) or 'nothing'}")
    return rules
