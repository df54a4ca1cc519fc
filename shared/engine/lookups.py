"""Lookups through couplings: a BC code or id <-> the Dataverse id of the record coupled to it.

Per run, answers are cached (a page of customers mostly shares a handful of currencies and salespeople), so a
lookup costs one coupling read per distinct value, not per record. Where every record has its own value (an item's
own unit group), `prefetch_*` resolves a whole chunk's values first: one BC read per group of values (an `or`
filter of about 1 KB) instead of one per record. BC's local currency is special: a blank currency
code in BC means the LCY, which has no BC currency row and so no coupling; it is the Dataverse currency with the
LCY's ISO code. A lookup declares it (`Lookup.local_currency`, the catalog's currency lookup), so the engine never
asks which mapping a lookup goes through.

In a full-synchronization chunk (`run_cache.current_run()`), what every chunk of the run would read alike is read
once per run and process (`engine/run_cache.py`): the LCY's Dataverse id, and the rows of a link set (a lookup whose
`bc_id_field` is not `id`: `contactsInformation`, company contact number -> customer id). Why the whole link set and
not a longer `or` filter: a chunk of 200 persons names about 200 companies in no order (chunks follow the persons'
ids), so their `or` filters cost 5 to 6 reads a chunk, while the link set has one row per related contact (BC reads
20,000 a page). A number the set does not hold is still read with an `or` filter (a link made since). The couplings
a lookup goes through are read the same way, once per run (`engine/coupled_ids.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from shared.domain.errors import RecordError
from shared.domain.exchange_rates import current_factors
from shared.domain.mapping import Lookup
from shared.domain.transforms import LATEST_EXCHANGE_RATE, Transform, exchange_rate_transform
from shared.engine import coupled_ids, run_cache
from shared.engine.context import SyncContext

NO_VALUE = ("", None, "00000000-0000-0000-0000-000000000000")
EXCHANGE_RATES = "currencyExchangeRates"
RATE_FIELDS = ["id", "currencyCode", "startingDate", "exchangeRateAmount", "relationalCurrencyCode",
               "relationalExchangeRateAmount"]  # fmt: skip
OWNER_ATTRIBUTE = "ownerid"  # Dataverse's owner of every user- or team-owned table
TEAM_MODEL = "team"  # `Setup.ownership_model` of BC's Team ownership model
FILTER_BUDGET = 1000  # characters of `or` terms per read: URLs stay near 1 KB (BC's URL limit is not documented)


def _groups(terms: list[str], budget: int = FILTER_BUDGET) -> Iterator[list[str]]:
    group: list[str] = []
    for term in terms:
        if group and sum(len(t) + 4 for t in group) + len(term) > budget:
            yield group
            group = []
        group.append(term)
    if group:
        yield group


def lcy_currency_id(context: SyncContext) -> str | None:
    """The Dataverse id of the currency with the LCY's ISO code (None when Sales has none); read once per full-sync
    run. Not the sync's to create (the LCY has no BC currency row), so "none" holds for the run as well."""
    code = context.local_currency.replace("'", "''")

    def load() -> str | None:
        pages = context.dataverse.list_changed_since(
            "transactioncurrencies",
            None,
            ["transactioncurrencyid", "isocurrencycode"],
            extra_filter=f"isocurrencycode eq '{code}'",
        )
        rows = [row for page in pages for row in page.rows]
        return str(rows[0]["transactioncurrencyid"]) if rows else None

    return run_cache.run_fact(("lcy", code), load)


class LookupFailed(RecordError):
    """The looked-up record is not coupled (or not found): couple it first, or the field is cleared if allowed."""


@dataclass
class LookupResolver:
    context: SyncContext
    _bc_ids: dict[tuple[str, str, str], str | None] = field(default_factory=dict)
    _bc_keys: dict[tuple[str, str, str], str | None] = field(default_factory=dict)
    _to_dv: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _to_bc: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _lcy_id: str | None = None
    _lcy_loaded: bool = False
    _run_transforms: dict[str, Transform] = field(default_factory=dict)

    def run_transform(self, name: str | None) -> Transform | None:
        """The transform of a field whose value is read from BC once per run (`transforms.RUN_TRANSFORMS`), else
        None. BC's latest exchange rates: one request for every currency (a rate change does not modify the
        currency record, so this is read each run the CURRENCY mapping makes a value mapper)."""
        if name != LATEST_EXCHANGE_RATE:
            return None
        if name not in self._run_transforms:
            rows = [
                row
                for page in self.context.bc.list_changed_since(EXCHANGE_RATES, None, RATE_FIELDS)
                for row in page.rows
            ]
            self._run_transforms[name] = exchange_rate_transform(current_factors(rows, self.context.clock().date()))
        return self._run_transforms[name]

    def lcy_dataverse_id(self) -> str | None:
        if not self._lcy_loaded:
            self._lcy_id = lcy_currency_id(self.context)
            self._lcy_loaded = True
        return self._lcy_id

    @staticmethod
    def _bc_id_key(lookup: Lookup, value: str) -> tuple[str, str, str]:
        return (f"{lookup.bc_entity_set}?{lookup.bc_scope or ''}#{lookup.bc_id_field}", lookup.bc_key, value)

    def _is_lcy(self, bc_value: Any) -> bool:
        """Blank is BC's local currency, and API v2.0 documents return the LCY code itself for it (api-facts A3)."""
        return bc_value in ("", None) or str(bc_value).upper() == self.context.local_currency.upper()

    def prefetch_bc_values(self, lookup: Lookup, values: Iterable[Any]) -> None:
        """Resolve many BC values (of one chunk) at once, so `to_dataverse_id` answers them from the cache."""
        if self.no_owner(lookup):
            return
        texts = sorted(
            {str(v) for v in values if v not in NO_VALUE and not (lookup.local_currency and self._is_lcy(v))}
            - {t for m, t in self._to_dv if m == lookup.mapping}
        )
        if not texts or (lookup.bc_key != "id" and not self.context.bc.serves(lookup.bc_entity_set or "")):
            return
        if lookup.bc_key != "id":
            todo = self._from_run_links(lookup, [t for t in texts if self._bc_id_key(lookup, t) not in self._bc_ids])
            terms = {f"{lookup.bc_key} eq '{t.replace(chr(39), chr(39) * 2)}'": t for t in todo}
            for group in _groups(list(terms)):
                match = " or ".join(group)
                text = f"({match}) and ({lookup.bc_scope})" if lookup.bc_scope else match
                pages = self.context.bc.list_changed_since(
                    lookup.bc_entity_set or "", None, [lookup.bc_id_field, lookup.bc_key], extra_filter=text
                )
                for row in (row for page in pages for row in page.rows):
                    related = str(row[lookup.bc_id_field])
                    self._bc_ids.setdefault(self._bc_id_key(lookup, str(row[lookup.bc_key])), related)
                for term in group:
                    self._bc_ids.setdefault(self._bc_id_key(lookup, terms[term]), None)
        bc_ids = {t: (t if lookup.bc_key == "id" else self._bc_ids[self._bc_id_key(lookup, t)]) for t in texts}
        partners = coupled_ids.dataverse_ids(self.context.couplings, lookup.mapping, [i for i in bc_ids.values() if i])
        for text, bc_id in bc_ids.items():
            self._to_dv[(lookup.mapping, text)] = partners.get(bc_id) if bc_id else None
        if lookup.otherwise is not None:  # values related to no record of this kind: the next kind, read ahead too
            self.prefetch_bc_values(lookup.otherwise, [t for t, bc_id in bc_ids.items() if not bc_id])

    def prefetch_dataverse_ids(self, lookup: Lookup, dataverse_ids: Iterable[Any]) -> None:
        """Resolve many Dataverse ids (of one chunk) at once, so `to_bc_value` answers them from the cache."""
        lcy = self.lcy_dataverse_id() if lookup.local_currency else None
        texts = sorted({str(v) for v in dataverse_ids if v not in NO_VALUE and str(v) != lcy})
        texts = [t for t in texts if (lookup.mapping, t) not in self._to_bc]
        if not texts:
            return
        partners = coupled_ids.bc_ids(self.context.couplings, lookup.mapping, texts)
        if lookup.bc_key != "id" and partners and self.context.bc.serves(lookup.bc_entity_set or ""):
            wanted = list(partners.values())
            rows = self.context.bc.get_entities(lookup.bc_entity_set or "", wanted, ["id", lookup.bc_key])
            for bc_id in wanted:
                row = rows.get(bc_id)
                self._bc_keys[(lookup.bc_entity_set or "", lookup.bc_key, bc_id)] = (
                    str(row[lookup.bc_key]) if row else None
                )
        for text in texts:
            partner = partners.get(text)
            if partner is None:
                self._to_bc[(lookup.mapping, text)] = None
            elif lookup.bc_key == "id":
                self._to_bc[(lookup.mapping, text)] = partner
            elif (key := (lookup.bc_entity_set or "", lookup.bc_key, partner)) in self._bc_keys:
                self._to_bc[(lookup.mapping, text)] = self._bc_keys[key]

    def _run_links(self, lookup: Lookup) -> dict[str, str] | None:
        """A link set's rows (`bc_key` -> `bc_id_field`, e.g. company contact number -> customer id), read whole once
        per full-sync run and process (`run_cache`); None outside a run or when the set is too large to hold."""
        if lookup.bc_id_field == "id" or run_cache.current_run() is None:
            return None
        entity_set, select = lookup.bc_entity_set or "", [lookup.bc_id_field, lookup.bc_key]

        def load() -> dict[str, str] | None:
            links: dict[str, str] = {}
            for page in self.context.bc.list_changed_since(entity_set, None, select, extra_filter=lookup.bc_scope):
                for row in page.rows:
                    links.setdefault(str(row[lookup.bc_key]), str(row[lookup.bc_id_field]))
                if len(links) > run_cache.MAX_ROWS:
                    return None
            return links

        return run_cache.run_fact(("links", self._bc_id_key(lookup, "")), load)

    def _from_run_links(self, lookup: Lookup, texts: list[str]) -> list[str]:
        """Answer what the run's link rows hold; returns the values still to read (a miss may be a link made since
        the rows were read, so it is read, not taken for "no link")."""
        links = self._run_links(lookup) if texts else None
        if links is None:
            return texts
        for text in texts:
            if text in links:
                self._bc_ids[self._bc_id_key(lookup, text)] = links[text]
        return [t for t in texts if t not in links]

    def _bc_id_for(self, lookup: Lookup, value: str) -> str | None:
        if lookup.bc_key == "id":
            return value
        key = self._bc_id_key(lookup, value)
        self._require_source(lookup, value)
        if key not in self._bc_ids:
            self._from_run_links(lookup, [value])
        if key not in self._bc_ids:
            literal = value.replace("'", "''")
            match = f"{lookup.bc_key} eq '{literal}'"
            rows = [
                row
                for page in self.context.bc.list_changed_since(
                    lookup.bc_entity_set or "",
                    None,
                    [lookup.bc_id_field, lookup.bc_key],
                    extra_filter=f"({match}) and ({lookup.bc_scope})" if lookup.bc_scope else match,
                )
                for row in page.rows
            ]
            self._bc_ids[key] = str(rows[0][lookup.bc_id_field]) if rows else None
        return self._bc_ids[key]

    def _require_source(self, lookup: Lookup, value: str) -> None:
        """A lookup into a BC entity the sync has no source for is a record error (the record waits), not a failed
        request that would stop the whole run."""
        entity_set = lookup.bc_entity_set or ""
        if not self.context.bc.serves(entity_set):
            raise LookupFailed(
                "lookupNotRunnable",
                f"{lookup.mapping} '{value}' cannot be looked up: no Business Central source is configured for "
                f"'{entity_set}'.",
                field=lookup.navigation,
            )

    def no_owner(self, lookup: Lookup) -> bool:
        """In BC's Team ownership model nothing maps to the owner: the Person model's Salesperson -> ownerid field
        mappings (facts, the "[P]" rows) do not exist, and the company's default owning team owns what is created
        (`connectors/dataverse/company_scope.py` writes it). So an owner lookup resolves to no link there: a
        salesperson that is not coupled stops no record, and a blank owner is BC's Not Null (keep what Sales has),
        so an owner never differs and is never written."""
        return lookup.navigation == OWNER_ATTRIBUTE and self.context.setup.ownership_model == TEAM_MODEL

    def to_dataverse_id(self, lookup: Lookup, bc_value: Any) -> str | None:
        """The Dataverse id for a BC value; "" / None -> None (no link), and every owner in the Team model
        (`no_owner`). Raises LookupFailed when not coupled. A value the link set relates to no record of this
        lookup's kind goes to `lookup.otherwise` (CONTACT's parent: the company's customer, else its vendor); one it
        relates to an uncoupled record fails here, as BC's customer relation wins even when not coupled."""
        if self.no_owner(lookup):
            return None
        if lookup.local_currency and self._is_lcy(bc_value):
            return self.lcy_dataverse_id()
        if bc_value in ("", None, "00000000-0000-0000-0000-000000000000"):
            return None
        text = str(bc_value)
        cache_key = (lookup.mapping, text)
        if cache_key not in self._to_dv:
            bc_id = self._bc_id_for(lookup, text)
            found_ids = coupled_ids.dataverse_ids(self.context.couplings, lookup.mapping, [bc_id] if bc_id else [])
            self._to_dv[cache_key] = found_ids.get(bc_id) if bc_id else None
        found = self._to_dv[cache_key]
        if found is None and lookup.otherwise is not None and self._bc_id_for(lookup, text) is None:
            return self.to_dataverse_id(lookup.otherwise, bc_value)  # related to no record of this kind
        if found is None:
            raise LookupFailed(
                "lookupNotCoupled",
                f"{lookup.mapping} '{text}' is not coupled: couple it first.",
                field=lookup.navigation,
            )
        return found

    def to_bc_value(self, lookup: Lookup, dataverse_id: Any) -> Any:
        """The BC value (id or code) for a Dataverse id; None -> "" (BC has no nulls)."""
        if dataverse_id in (None, ""):
            return ""
        text = str(dataverse_id)
        if lookup.local_currency and text == self.lcy_dataverse_id():
            return ""
        cache_key = (lookup.mapping, text)
        if cache_key not in self._to_bc:
            partner = coupled_ids.bc_ids(self.context.couplings, lookup.mapping, [text]).get(text)
            value: str | None = None
            if partner is not None:
                value = partner if lookup.bc_key == "id" else self._bc_key_of(lookup, partner)
            self._to_bc[cache_key] = value
        found = self._to_bc[cache_key]
        if found is None:
            raise LookupFailed(
                "lookupNotCoupled", f"The {lookup.mapping} record {text} is not coupled to BC.", field=lookup.navigation
            )
        return found

    def _bc_key_of(self, lookup: Lookup, bc_id: str) -> str | None:
        key = (lookup.bc_entity_set or "", lookup.bc_key, bc_id)
        self._require_source(lookup, bc_id)
        if key not in self._bc_keys:
            row = self.context.bc.get_entity(lookup.bc_entity_set or "", bc_id, select=["id", lookup.bc_key])
            self._bc_keys[key] = str(row[lookup.bc_key]) if row else None
        return self._bc_keys[key]
