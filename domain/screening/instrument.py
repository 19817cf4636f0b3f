"""A screening instrument: a versioned definition (items, the indicator domain of each, the
scoring rule), parsed from JSON and checked before use. Pure: the bytes come in, an
`Instrument` or an `InstrumentInvalid` naming what is wrong goes out.

The file format, the shipped default and how an organisation adds a version are described in
docs/identification.md. An instrument is identified by ``(id, version)``; a screening keeps
both, and is always scored and reported under the version it was recorded with.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

RESULTS = ("no_indicators", "indicators_present", "strong_indicators", "confirmed")  # ordered
ANSWERS = ("yes", "no", "unknown")

_CODE = r"^[a-z][a-z0-9_]{0,63}$"
Code = Annotated[str, msgspec.Meta(pattern=_CODE)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
MAX_ITEMS = 200


class InstrumentInvalid(ValueError):
    """The definition is malformed; the message names the member and the rule it breaks."""


class IndicatorDomain(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    id: Code
    title: Title


class Item(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """One question, answered yes, no or unknown. `strong`: a yes is a strong indicator by
    itself; `commercial_sex`: a yes says the person performed a commercial sex act."""

    id: Code
    domain: Code
    text: Title
    strong: bool = False
    commercial_sex: bool = False


class ScoringRule(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """How yes answers become a result (`domain.screening.scoring.score`):

    * `confirmed` when the person is a minor and an item marked `commercial_sex` is yes and
      `minor_in_commercial_sex_confirmed` (by law: DVHT, 22 U.S.C. 7102), or when yes answers
      fall in at least `confirmed_domains` domains (None: never by count);
    * `strong_indicators` when at least `strong_items` items marked `strong` are yes, or yes
      answers fall in at least `strong_domains` domains;
    * `indicators_present` when at least `indicators_present_items` items are yes;
    * `no_indicators` otherwise.
    """

    indicators_present_items: Annotated[int, msgspec.Meta(ge=1, le=MAX_ITEMS)]
    strong_items: Annotated[int, msgspec.Meta(ge=1, le=MAX_ITEMS)]
    strong_domains: Annotated[int, msgspec.Meta(ge=1, le=MAX_ITEMS)]
    confirmed_domains: Annotated[int, msgspec.Meta(ge=1, le=MAX_ITEMS)] | None = None
    minor_in_commercial_sex_confirmed: bool = True


class Instrument(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9-]{0,63}$")]
    version: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    title: Title
    organisation: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] | None = None
    asks_minor: bool = True  # whether the screening records `minor` (yes / no / unknown)
    domains: tuple[IndicatorDomain, ...]  # at least one (`consistency_faults`)
    items: tuple[Item, ...]  # 1 to MAX_ITEMS (`consistency_faults`)
    scoring: ScoringRule

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.version)

    def item(self, item_id: str) -> Item | None:
        return next((item for item in self.items if item.id == item_id), None)


def parse_instrument(data: bytes | str, source: str = "instrument") -> Instrument:
    """The instrument a JSON document defines; `InstrumentInvalid` naming the first fault."""
    try:
        instrument = msgspec.json.decode(data, type=Instrument)
    except msgspec.ValidationError as error:
        raise InstrumentInvalid(f"{source}: {error}") from None
    except msgspec.DecodeError as error:
        raise InstrumentInvalid(f"{source}: not JSON ({error})") from None
    faults = consistency_faults(instrument)
    if faults:
        raise InstrumentInvalid(f"{source}: {'; '.join(faults)}")
    return instrument


def consistency_faults(instrument: Instrument) -> list[str]:
    """What the types cannot say: unique ids, known domains, reachable thresholds."""
    faults = []
    if not instrument.domains:
        faults.append("$.domains must list at least one domain")
    if not 1 <= len(instrument.items) <= MAX_ITEMS:
        faults.append(f"$.items must list 1 to {MAX_ITEMS} items")
    domain_ids = [domain.id for domain in instrument.domains]
    item_ids = [item.id for item in instrument.items]
    for kind, ids in (("domain", domain_ids), ("item", item_ids)):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            faults.append(f"{kind} ids must be unique ({', '.join(repeated)} repeated)")
    for index, item in enumerate(instrument.items):
        if item.domain not in domain_ids:
            faults.append(f"$.items[{index}].domain names no domain of the instrument")
    rule = instrument.scoring
    if rule.indicators_present_items > len(item_ids):
        faults.append("$.scoring.indicators_present_items exceeds the number of items")
    if rule.strong_items > max(1, sum(item.strong for item in instrument.items)):
        faults.append("$.scoring.strong_items exceeds the number of strong items")
    for name in ("strong_domains", "confirmed_domains"):
        threshold = getattr(rule, name)
        if threshold is not None and threshold > len(domain_ids):
            faults.append(f"$.scoring.{name} exceeds the number of domains")
    if rule.minor_in_commercial_sex_confirmed and not (
        instrument.asks_minor and any(item.commercial_sex for item in instrument.items)
    ):
        faults.append(
            "$.scoring.minor_in_commercial_sex_confirmed needs asks_minor and an item marked "
            "commercial_sex"
        )
    return faults


def file_name_fits(name: str) -> bool:
    """Whether a file of an instrument directory is read: ``*.json``, not hidden."""
    return re.fullmatch(r"[^.][^/]*\.json", name) is not None
