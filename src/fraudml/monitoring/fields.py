"""What the report counts as a focus field (重点领域) and as a key drug or consumable.

The national lists of focus areas for fund supervision name 骨科, 血透, 心内, 检查, 检验,
康复, 肿瘤, 麻醉 and 重症. The contract has no field for them, so membership is defined
from the fields it has:

- a *department* field holds the whole claims whose ``claims.department`` is that
  department (骨科 ``orthopedics``, 血透 ``hemodialysis``, 心内 ``cardiology``, 康复
  ``rehabilitation``, 肿瘤 ``oncology``, 麻醉 ``anesthesia``, 重症 ``icu``), counted at the
  claim's ``fund_paid``;
- a *category* field holds the fee lines of that category, on any claim (检查 ``exam``,
  检验 ``lab``), counted at the line's share of the claim's fund payment.

A fee line's category is the catalog's ``item_category`` when the item is in the catalog
(what the item is), else the line's own (what it was billed as): an examination billed as
treatment still counts as an examination. The fields overlap (an orthopaedic stay's
examinations are in 骨科 and in 检查), so their amounts are never added up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class FocusField:
    """One focus field: its code, how membership is read, and the codes that belong."""

    code: str
    basis: Literal["department", "item_category"]
    codes: tuple[str, ...]


#: The focus fields of the national lists, in the order the lists give them.
FOCUS_FIELDS: tuple[FocusField, ...] = (
    FocusField("orthopedics", "department", ("orthopedics",)),
    FocusField("hemodialysis", "department", ("hemodialysis",)),
    FocusField("cardiology", "department", ("cardiology",)),
    FocusField("exam", "item_category", ("exam",)),
    FocusField("lab", "item_category", ("lab",)),
    FocusField("rehabilitation", "department", ("rehabilitation",)),
    FocusField("oncology", "department", ("oncology",)),
    FocusField("anesthesia", "department", ("anesthesia",)),
    FocusField("icu", "department", ("icu",)),
)

#: Key drugs and consumables (重点药品耗材): the drug categories and medical materials.
KEY_CATEGORIES: tuple[str, ...] = ("western_drug", "patent_drug", "herbal", "material")

#: The fee-mix groups a provider's lines are read in (share of its line amounts).
MIX_GROUPS: dict[str, tuple[str, ...]] = {
    "drug_share": ("western_drug", "patent_drug", "herbal"),
    "material_share": ("material",),
    "exam_lab_share": ("exam", "lab"),
}
