"""The service's settings (``conf/serve.yaml``), checked before anything starts.

Each wrong value stops with its key named (:class:`~fraudml.errors.SettingError`, exit 2):
a port outside 1–65535, a decision that is not pass/remind/review/reject, a threshold
below one, an unknown key in a section.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fraudml.errors import SettingError
from fraudml.rulebase.spec import RESULTS, SEVERITIES, STAGES
from fraudml.service.schema import DECISIONS

#: The stages in the order a claim passes them: a rule of a later stage than the one a
#: check is for decides at most :attr:`DecisionPolicy.later_stage`.
STAGE_ORDER = tuple(STAGES)


def _known(section: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise SettingError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}"
        )


def _decision(value: Any, key: str) -> str:
    if value not in DECISIONS:
        raise SettingError(f"{key}={value!r}; expected one of {', '.join(DECISIONS)}")
    return str(value)


def _stage(value: Any, key: str) -> str:
    if value not in STAGES:
        raise SettingError(f"{key}={value!r}; expected one of {', '.join(STAGES)}")
    return str(value)


def _int(value: Any, key: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value))
        except ValueError:
            raise SettingError(f"{key}={value!r} is not a whole number") from None
    if value < low or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise SettingError(f"{key}={value} is out of range (expected {span})")
    return int(value)


@dataclass(frozen=True)
class DecisionPolicy:
    """What one hit decides, by the stage a check is for, the hit's result and severity;
    a claim's decision is the strongest of its hits' (pass without any)."""

    #: stage → result → severity → decision
    table: Mapping[str, Mapping[str, Mapping[str, str]]]
    #: the most a hit of a rule meant for a later stage decides (事后 rules at 事中 …)
    later_stage: str = "remind"

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], key: str = "decision") -> DecisionPolicy:
        _known(raw, {*STAGES, "later_stage"}, key)
        table: dict[str, dict[str, dict[str, str]]] = {}
        for stage in STAGES:
            by_result = raw.get(stage)
            if not isinstance(by_result, Mapping):
                raise SettingError(
                    f"{key}.{stage} is missing; expected {{definite: {{high: …, medium: …, "
                    "low: …}, suspicious: {…}}"
                )
            _known(by_result, set(RESULTS), f"{key}.{stage}")
            table[stage] = {}
            for result in RESULTS:
                by_severity = by_result.get(result)
                if not isinstance(by_severity, Mapping):
                    raise SettingError(f"{key}.{stage}.{result} is missing")
                _known(by_severity, set(SEVERITIES), f"{key}.{stage}.{result}")
                table[stage][result] = {
                    sev: _decision(by_severity.get(sev), f"{key}.{stage}.{result}.{sev}")
                    for sev in SEVERITIES
                }
        later = _decision(raw.get("later_stage", "remind"), f"{key}.later_stage")
        return cls(table, later)

    def of_hit(self, stage: str, rule_stage: str, result: str, severity: str) -> str:
        decision = self.table[stage][result][severity]
        if STAGE_ORDER.index(rule_stage) > STAGE_ORDER.index(stage):
            decision = min(decision, self.later_stage, key=DECISIONS.index)
        return decision


@dataclass(frozen=True)
class SuspensionSettings:
    """熔断: a provider with ``threshold`` claims holding a definite violation (明确违规)
    among its checked claims of the last ``window_days`` days has every further claim
    rejected, with reason ``suspended``, until enough of them age out of the window."""

    enabled: bool = False
    threshold: int = 5
    window_days: int = 30


@dataclass(frozen=True)
class ServiceSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    #: the stage a check is for when its request does not say (``?stage=``)
    stage: str = "in"
    decision: DecisionPolicy = field(
        default_factory=lambda: DecisionPolicy.from_mapping(DEFAULT_DECISION)
    )
    suspension: SuspensionSettings = field(default_factory=SuspensionSettings)
    #: JSON lines, one per decision; ``None``: no audit log (tests only)
    audit: Path | None = None
    max_body_bytes: int = 16_000_000
    max_batch_claims: int = 10_000
    #: the environment variable holding the bearer token; unset or empty: no token
    token_env: str = "FRAUDML_SERVE_TOKEN"
    #: only claims admitted before this are history (replaying a period)
    history_until: datetime | None = None
    #: checks at these stages are added to the history (a 事前 reminder is not a claim)
    record_stages: tuple[str, ...] = ("in", "post")
    #: whether a rejected claim joins the history (it did not settle)
    record_rejected: bool = False
    #: the 目录外 rule: a fee line whose item code the catalog does not list
    unlisted: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_UNLISTED))
    #: uvicorn's access log
    access_log: bool = True
    #: the folder ``make ledger`` wrote (or its status.parquet): claims billed by a
    #: practitioner suspended or terminated at the claim's time are refused
    eligibility: Path | None = None

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any]) -> ServiceSettings:
        """Settings from the composed ``serve`` config (a plain mapping)."""
        host = cfg.get("host") or ""
        if not isinstance(host, str) or not host.strip():
            raise SettingError(f"host={host!r}; expected an address such as 127.0.0.1")
        port = _int(cfg.get("port"), "port", 1, 65535)
        stage = _stage(cfg.get("stage", "in"), "stage")
        decision = DecisionPolicy.from_mapping(cfg.get("decision") or {})
        raw_susp = cfg.get("suspension") or {}
        _known(raw_susp, {"enabled", "threshold", "window_days"}, "suspension")
        enabled = raw_susp.get("enabled", False)
        if not isinstance(enabled, bool):
            raise SettingError(f"suspension.enabled={enabled!r}; expected true or false")
        suspension = SuspensionSettings(
            enabled,
            _int(raw_susp.get("threshold", 5), "suspension.threshold", 1),
            _int(raw_susp.get("window_days", 30), "suspension.window_days", 1),
        )
        limits = cfg.get("limits") or {}
        _known(limits, {"max_body_bytes", "max_batch_claims"}, "limits")
        history = cfg.get("history") or {}
        _known(history, {"until", "record_stages", "record_rejected"}, "history")
        until = history.get("until")
        if until in (None, ""):
            until_at = None
        else:
            try:
                until_at = datetime.fromisoformat(str(until))
            except ValueError:
                raise SettingError(
                    f"history.until={until!r} is not a date (expected YYYY-MM-DD)"
                ) from None
        stages = history.get("record_stages", ["in", "post"]) or []
        if isinstance(stages, str):
            stages = [stages]
        record = tuple(_stage(s, "history.record_stages") for s in stages)
        rejected = history.get("record_rejected", False)
        if not isinstance(rejected, bool):
            raise SettingError(f"history.record_rejected={rejected!r}; expected true or false")
        auth = cfg.get("auth") or {}
        _known(auth, {"token_env"}, "auth")
        token_env = str(auth.get("token_env") or "FRAUDML_SERVE_TOKEN")
        audit = cfg.get("audit")
        access_log = cfg.get("access_log", True)
        return cls(
            host=host.strip(),
            port=port,
            stage=stage,
            decision=decision,
            suspension=suspension,
            audit=Path(audit) if audit else None,
            max_body_bytes=_int(
                limits.get("max_body_bytes", 16_000_000), "limits.max_body_bytes", 1
            ),
            max_batch_claims=_int(
                limits.get("max_batch_claims", 10_000), "limits.max_batch_claims", 1
            ),
            token_env=token_env,
            history_until=until_at,
            record_stages=record,
            record_rejected=rejected,
            unlisted=dict(cfg.get("unlisted") or DEFAULT_UNLISTED),
            access_log=bool(access_log),
            eligibility=Path(cfg["eligibility"]) if cfg.get("eligibility") else None,
        )


#: The shipped policy (as in conf/serve.yaml): reminders only before the claim (事前); at
#: settlement (事中) a definite high-severity violation is rejected, the rest held for
#: review or reminded; a batch-stage (事后) call decides as a reviewer would.
DEFAULT_DECISION: dict[str, Any] = {
    "pre": {
        "definite": {"high": "remind", "medium": "remind", "low": "remind"},
        "suspicious": {"high": "remind", "medium": "remind", "low": "remind"},
    },
    "in": {
        "definite": {"high": "reject", "medium": "review", "low": "remind"},
        "suspicious": {"high": "review", "medium": "remind", "low": "remind"},
    },
    "post": {
        "definite": {"high": "reject", "medium": "reject", "low": "review"},
        "suspicious": {"high": "review", "medium": "review", "low": "remind"},
    },
    "later_stage": "remind",
}

DEFAULT_UNLISTED: dict[str, Any] = {
    "id": "CAT-UNLISTED",
    "name": {"zh": "目录外项目", "en": "Item not in the catalog"},
    "category": "policy",
    "result": "suspicious",
    "scene": ["outpatient", "inpatient", "pharmacy"],
    "stage": "in",
    "window": "fee line",
    "severity": "medium",
    "basis": {"zh": "医保目录外项目不予支付", "en": "Items outside the catalog are not payable"},
    "check": "unlisted",
    "message": {
        "zh": "项目 {item_code} 不在医保目录内",
        "en": "item {item_code} is not in the catalog",
    },
    "evidence": ["item_code", "amount"],
}
