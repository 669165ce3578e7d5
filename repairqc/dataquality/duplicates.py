"""Finding duplicate customers (HB §7.1.2 "de-duplicate").

Two customers are proposed as one person when any of these holds:

* **same phone**: their phone numbers are equal once normalised by `crypto.normalise_phone`
  (digits only, a leading international "00" read as "+": "+86 138-0013 8000" and
  "008613800138000" are one number);
* **same e-mail**: equal once trimmed and lower-cased (`crypto.normalise_email`);
* **similar name**: `name_key` of both names (see below) are equal, or their similarity ratio
  (`name_score`) is at least `NAME_SIMILARITY` (0.85).

Phones and e-mails are encrypted, so they are compared through their keyed hashes
(`Customer.phone_lookup` / `email_lookup`), which are comparable as long as one lookup key is
configured. While a key rotation is under way (several keys in LOOKUP_KEY) a row may still hold a
hash under an older key; the finder then decrypts the values it compares and hashes them again
under the current key, as `crypto.rotate_tenant_data` would.

Names are compared without comparing every customer with every other (a tenant may hold
100,000 customers): identical keys are grouped with a dictionary, and similar keys are found by
the *sorted-neighbourhood* method: the keys are sorted, and each is compared with the next
`WINDOW` keys only; a second pass sorts the keys reversed, so a difference in the first letters
is found too. That is O(n log n) and misses only pairs that sort far apart (e.g. two first
letters wrong), an accepted trade-off of the method.

`name_key`: Unicode NFKC (full-width letters and digits become ASCII), case folded, accents
dropped, punctuation and spaces removed between Chinese characters ("张 伟", "张·伟" → "张伟");
Latin words are sorted, so "Wei Li" and "LI, Wei" have one key.

A pair marked "not a duplicate" (`DuplicateDismissal`) is not proposed again.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from rapidfuzz.distance import LCSseq
from sqlalchemy.orm import joinedload

from repairqc.crypto import lookup_hash, lookup_hashes, normalise_email, normalise_phone
from repairqc.dataquality.models import DuplicateDismissal
from repairqc.db import db
from repairqc.repairs.models import Customer

#: Lowest `name_score` of two name keys for "similar name".
NAME_SIMILARITY = 0.85
#: Neighbours each key is compared with, in each of the two sort orders.
WINDOW = 4
#: Most groups one page shows; the first ones are the strongest (phone/e-mail matches). Up to
#: `PAIRS_SHOWN` rows each: 200 groups made a 3.6 MB page at 100,000 customers.
GROUP_LIMIT = 50
#: Most pairs shown per group (a group of n customers can hold n·(n-1)/2 pairs).
PAIRS_SHOWN = 25
#: A phone, e-mail or name key shared by more customers than this is a placeholder ("walk-in",
#: "000000", a shop's own number), not evidence: it is reported, not paired (pairing k customers
#: all with all is k²/2 pairs: 10,000 "walk-in" customers would be 50 million).
MAX_SHARED = 25

SAME_PHONE = "phone"
SAME_EMAIL = "email"
SIMILAR_NAME = "name"
REASON_LABELS = {
    SAME_PHONE: _l("Same phone number"),
    SAME_EMAIL: _l("Same e-mail address"),
    SIMILAR_NAME: _l("Similar name"),
}


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x2FA1F


_ASCII_WORD = re.compile(r"[a-z0-9]+")
_ALL_CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+")


def name_key(name: str | None) -> str:
    """The form two names are compared in (see the module's docstring)."""
    text = unicodedata.normalize("NFKC", name or "").casefold()
    # The two common cases without the character loop (100,000 names per page view).
    if text.isascii():
        return " ".join(sorted(_ASCII_WORD.findall(text)))
    if _ALL_CJK.fullmatch(text):
        return text
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    words: list[str] = []
    current = ""
    for char in text:
        if char.isalnum():
            # A Chinese character joins the word before it even across a space or a dot:
            # Chinese names are written without spaces, so any separator there is noise.
            if _is_cjk(char) and not current and words and _is_cjk(words[-1][-1]):
                current = words.pop()
            current += char
        elif current:
            words.append(current)
            current = ""
    if current:
        words.append(current)
    latin = sorted(w for w in words if not _is_cjk(w[0]))
    chinese = [w for w in words if _is_cjk(w[0])]
    return " ".join([*chinese, *latin])


def name_score(a: str, b: str) -> float:
    """How alike two name keys are, from 0 to 1 (1: the same key); 0 below NAME_SIMILARITY.

    The ratio 2·M / (|a| + |b|), M the length of the longest common subsequence (rapidfuzz's
    `LCSseq`; difflib's `ratio` approximates M with its matching blocks). rapidfuzz rather than
    difflib for speed: a page view compares ~700,000 pairs of keys at 100,000 customers, and
    difflib took ~3.5 s of Python for them; the cut-off lets rapidfuzz stop early on most pairs.
    M is an integer, so the threshold is checked on the ratio itself (rapidfuzz's normalised
    scores turn 0.85 into 0.8499999… on some lengths).
    """
    if a == b:
        return 1.0
    total = len(a) + len(b)
    needed = math.ceil(NAME_SIMILARITY * total / 2 - 1e-9)  # the fewest common characters
    score = 2.0 * LCSseq.similarity(a, b, score_cutoff=needed) / total
    return score if score >= NAME_SIMILARITY else 0.0


@dataclass(frozen=True)
class Person:
    """What the finder reads of a customer: no decrypted value unless a rotation is under way."""

    id: int
    store_id: int
    full_name: str
    phone_key: str | None
    email_key: str | None


@dataclass
class Pair:
    low: int
    high: int
    reasons: set[str] = field(default_factory=set)
    name_score: float | None = None

    @property
    def strength(self) -> tuple[int, float]:
        return (len(self.reasons - {SIMILAR_NAME}), self.name_score or 0.0)

    def reason_labels(self) -> list[str]:
        labels = []
        for reason in (SAME_PHONE, SAME_EMAIL, SIMILAR_NAME):
            if reason in self.reasons:
                label = str(REASON_LABELS[reason])
                if reason == SIMILAR_NAME and self.name_score is not None:
                    label = f"{label} ({self.name_score:.0%})"
                labels.append(label)
        return labels


@dataclass
class Group:
    """Customers linked by candidate pairs; each pair can be merged or dismissed on its own."""

    customers: list[Customer]
    #: The strongest `PAIRS_SHOWN` pairs; `pair_count` says how many there are.
    pairs: list[Pair]
    pair_count: int = 0


@dataclass
class Candidates:
    """What the finder found: candidate pairs, and the values too common to be evidence."""

    pairs: dict[tuple[int, int], Pair]
    #: (reason, customers sharing it) per value left out by `MAX_SHARED`; no value is kept.
    placeholders: list[tuple[str, int]] = field(default_factory=list)


def _people(scope: sa.ColumnElement[bool] | None) -> list[Person]:
    several_keys = len(lookup_hashes("phone", "0")) > 1
    columns = [Customer.id, Customer.store_id, Customer.full_name]
    if several_keys:
        columns += [Customer.phone, Customer.email]  # decrypted by the column type
    else:
        columns += [Customer.phone_lookup, Customer.email_lookup]
    statement = sa.select(*columns)
    if scope is not None:
        statement = statement.where(scope)
    people = []
    for row in db.session.execute(statement):
        if several_keys:
            phone = lookup_hash("phone", normalise_phone(row.phone or ""))
            email = lookup_hash("email", normalise_email(row.email or ""))
        else:
            phone, email = row.phone_lookup, row.email_lookup
        people.append(Person(row.id, row.store_id, row.full_name, phone, email))
    return people


def _dismissed(ids: set[int]) -> set[tuple[int, int]]:
    rows = db.session.execute(sa.select(DuplicateDismissal.customer_id, DuplicateDismissal.other_customer_id))
    return {(a, b) for a, b in rows if a in ids and b in ids}


def candidate_pairs(people: Iterable[Person]) -> dict[tuple[int, int], Pair]:
    """Every candidate pair among `people`, with why each matched (no dismissals applied)."""
    return find_candidates(people).pairs


def find_candidates(people: Iterable[Person]) -> Candidates:
    """Candidate pairs among `people` and the placeholder values left out (`MAX_SHARED`)."""
    people = list(people)
    pairs: dict[tuple[int, int], Pair] = {}
    placeholders: list[tuple[str, int]] = []

    def all_with_all(ids: list[int], reason: str, score: float | None = None) -> None:
        if len(ids) > MAX_SHARED:
            placeholders.append((reason, len(ids)))
            return
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                add(a, b, reason, score)

    def add(a: int, b: int, reason: str, score: float | None = None) -> None:
        key = (min(a, b), max(a, b))
        pair = pairs.setdefault(key, Pair(*key))
        pair.reasons.add(reason)
        if score is not None:
            pair.name_score = max(pair.name_score or 0.0, score)

    for reason, attribute in ((SAME_PHONE, "phone_key"), (SAME_EMAIL, "email_key")):
        by_value: dict[str, list[int]] = defaultdict(list)
        for person in people:
            value = getattr(person, attribute)
            if value:
                by_value[value].append(person.id)
        for ids in by_value.values():
            all_with_all(ids, reason)

    keyed = [(name_key(p.full_name), p.id) for p in people]
    by_key: dict[str, list[int]] = defaultdict(list)
    for key, person_id in keyed:
        if key:
            by_key[key].append(person_id)
    for ids in by_key.values():
        all_with_all(ids, SIMILAR_NAME, 1.0)
    # Sorted neighbourhood over the distinct keys (equal keys are already paired above; a
    # placeholder name is not compared either).
    distinct = [key for key, ids in by_key.items() if len(ids) <= MAX_SHARED]
    for order in (sorted(distinct), sorted(distinct, key=lambda k: k[::-1])):
        for i, key in enumerate(order):
            for other in order[i + 1 : i + 1 + WINDOW]:
                score = name_score(key, other)
                if score >= NAME_SIMILARITY:
                    for a in by_key[key]:
                        for b in by_key[other]:
                            add(a, b, SIMILAR_NAME, score)
    return Candidates(pairs, placeholders)


def find_duplicate_groups(scope: sa.ColumnElement[bool] | None, limit: int = GROUP_LIMIT) -> list[Group]:
    """The candidate groups among the customers matching `scope` (the user's visible ones),
    strongest first; pairs marked "not a duplicate" are left out."""
    return find_duplicates(scope, limit)[0]


def find_duplicates(
    scope: sa.ColumnElement[bool] | None, limit: int = GROUP_LIMIT
) -> tuple[list[Group], list[tuple[str, int]]]:
    """`find_duplicate_groups`, and the placeholder values left out (reason, customers)."""
    people = _people(scope)
    found = find_candidates(people)
    pairs = found.pairs
    dismissed = _dismissed({p.id for p in people}) if pairs else set()
    pairs = {key: pair for key, pair in pairs.items() if key not in dismissed}
    # Union-find: a group is every customer reachable through candidate pairs.
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[root(a)] = root(b)
    grouped: dict[int, list[Pair]] = defaultdict(list)
    for key, pair in pairs.items():
        grouped[root(key[0])].append(pair)
    ranked = sorted(
        grouped.values(), key=lambda ps: (max(p.strength for p in ps), -min(p.low for p in ps)), reverse=True
    )[:limit]
    shown = []
    for group_pairs in ranked:
        group_pairs.sort(key=lambda p: p.strength, reverse=True)
        shown.append((group_pairs[:PAIRS_SHOWN], len(group_pairs)))
    ids = {i for group_pairs, _ in shown for p in group_pairs for i in (p.low, p.high)}
    customers = {}
    for chunk in _chunks(sorted(ids), 1000):  # bounded IN lists on any backend
        statement = sa.select(Customer).options(joinedload(Customer.store)).where(Customer.id.in_(chunk))
        customers.update({c.id: c for c in db.session.execute(statement).scalars()})
    groups = []
    for group_pairs, count in shown:
        members = sorted({i for p in group_pairs for i in (p.low, p.high)})
        groups.append(Group([customers[i] for i in members], group_pairs, count))
    return groups, found.placeholders


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def pair_reasons(a: Customer, b: Customer) -> Pair:
    """Why two given customers look alike (for the compare page); no reasons if they do not."""
    pairs = candidate_pairs(
        [
            Person(
                c.id,
                c.store_id,
                c.full_name,
                *(
                    (
                        lookup_hash("phone", normalise_phone(c.phone or "")),
                        lookup_hash("email", normalise_email(c.email or "")),
                    )
                ),
            )
            for c in (a, b)
        ]
    )
    return pairs.get((min(a.id, b.id), max(a.id, b.id)), Pair(min(a.id, b.id), max(a.id, b.id)))
