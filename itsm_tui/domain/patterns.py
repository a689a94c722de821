"""Recurring-incident detection: groups of incidents that look like one underlying problem.

Over a rolling window (default the 30 days up to `now`, both ends included) the incidents not
yet linked to a problem are grouped three ways, and every group of at least `min_size`
incidents is a candidate:

- `ci`: the same configuration item (key `ci:mail-01`);
- `service_category`: the same service and category (key `service:Email|category:network`);
- `text`: similar titles, by token overlap after normalising (key `text:crash+outlo+start`).

Text similarity is a set-similarity join on normalised tokens rather than a character ratio:
character scores rate "vpn slow" against "vpn down" as 75% alike, while the words say they are
different faults. A title becomes a token set by lowercasing, dropping words with digits or
dots in them (host names, IPs, ticket numbers), punctuation and stop words ("keeps", "when",
"not working"), stripping an inflection ("-ing", "-ed", plural "-s"/"-es") and cutting each word
to its first five letters, so "Outlook keeps crashing on start", "Outlook crashes when
starting" and "outlook crash at startup" all read {outlo, crash, start}. Two token sets match
when their Dice coefficient 2|A&B| / (|A| + |B|) is at least `TEXT_SIMILARITY` (0.7): one
extra word on three is the same complaint ("... start after update"); one word different
of three ("outlook crash on send") is not. Titles with fewer than two tokens ("Help!",
"VPN") borrow words from the start of the description, which is where the complaint is then.

It scales by never comparing all pairs. Incidents with identical token sets are one group at
once (a hash). The distinct token sets are then joined with prefix filtering (Bayardo et al.,
"Scaling up all pairs similarity search", 2007): with tokens ordered rarest first, two sets
that reach the threshold must share a token among each one's first few ("prefix"), so only
sets sharing a prefix token are compared, and only sets of compatible sizes. Matches are
merged with union-find. A prefix token shared by more than `MAX_BLOCK` sets says little about
any of them; its block stops growing, which bounds the work on pathological data at the cost
of possibly missing links that only such a common token carries.

Results do not depend on the order of the input rows: everything is keyed and sorted by
incident number and token. The same set of incidents is reported once, under the first kind
that explains it (a CI, then a service and category, then text).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter

DEFAULT_DAYS = 30
DEFAULT_MIN_SIZE = 3
TEXT_SIMILARITY = 0.7  # Dice coefficient of the normalised token sets
MAX_BLOCK = 400  # distinct token sets a prefix token may block together
MAX_TOKENS = 12  # tokens kept per incident (titles are short; this bounds a long one)
STEM_LENGTH = 5
KEY_TOKENS = 8  # tokens named in a text candidate's key
DESCRIPTION_CHARS = 200  # how much of a description a terse title borrows from

# Words that say nothing about which fault it is: English function words and help-desk filler.
_STOP_WORDS = """
    a about after again all also always am an and any are as at be been before being but by
    can cannot cant could did do does doesn doesnt don dont for from get gets getting got
    had has have having he her him his how i if in into is isn isnt it its just keep keeps
    kept me my no not now of off on once only or our out over please really same she should
    since so some still such than that the their them then there these they this those to too
    try trying under until up us very was wasn wasnt we were what when where which while who
    why will with won wont would you your
    issue issues problem problems help urgent asap user users work works working worked
    anymore today yesterday morning afternoon unable hi hello thanks thank regards
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[a-z]{2,}")
_EDGE_PUNCTUATION = ".,;:!?()[]{}<>\"'`"
_PLURAL_ES = ("ches", "shes", "sses", "xes", "zes")


class CandidateKind(StrEnum):
    CI = "ci"
    SERVICE_CATEGORY = "service_category"
    TEXT = "text"


KIND_ORDER = (CandidateKind.CI, CandidateKind.SERVICE_CATEGORY, CandidateKind.TEXT)


@dataclass(frozen=True)
class IncidentFacts:
    """What detection reads of one incident (opened_at timezone-aware)."""

    number: str
    opened_at: datetime
    service: str | None = None
    ci: str | None = None
    category: str | None = None
    title: str = ""
    description: str = ""


@dataclass(frozen=True)
class Candidate:
    """A group of unlinked incidents that share something; a problem waiting to be opened.

    `key` names what they share and stays the same while the group grows, so a dismissal can
    be remembered against it. `service` is the members' one service (None when they differ or
    have none); `cis` every CI named by a member; `members` are incident numbers, sorted."""

    key: str
    kind: CandidateKind
    label: str
    members: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    service: str | None
    cis: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def span_days(self) -> float:
        return (self.last_seen - self.first_seen).total_seconds() / 86400

    @property
    def per_day(self) -> float:
        """Incidents per day over the group's span; a span under a day counts as one day, so
        a burst of five in an hour reads 5/day rather than thousands."""
        return self.size / max(self.span_days, 1.0)

    @property
    def per_week(self) -> float:
        return self.per_day * 7


def normalise(text: str) -> tuple[str, ...]:
    """The distinct informative word stems of `text`, in first-seen order."""
    text = text.lower().replace("e-mail", "email")
    if _DIGIT.search(text) or "." in text:
        # Drop host names, IPs, ticket and error numbers: they differ every time.
        text = " ".join(
            raw
            for raw in text.split()
            if not (_DIGIT.search(raw) or "." in raw.strip(_EDGE_PUNCTUATION))
        )
    words = [w for w in _WORD.findall(text) if w not in STOP_WORDS]
    return tuple(dict.fromkeys(map(stem, words)))[:MAX_TOKENS]


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A crude, predictable stem: one inflection off, then the first five letters.

    Truncation is what makes "startup" and "starting" meet; the inflection rules keep "files"
    and "file" together (plural -es only after ch/sh/ss/x/z) and "stopped" with "stop"."""
    if word.endswith(_PLURAL_ES):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    else:
        for suffix in ("ing", "ed"):
            base = word[: -len(suffix)]
            if word.endswith(suffix) and len(base) >= 3:
                if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                    base = base[:-1]  # stopped -> stop, running -> run
                word = base
                break
    return word[:STEM_LENGTH]


def text_tokens(fact: IncidentFacts) -> tuple[str, ...]:
    """The tokens a text match compares: the title's, plus the description's opening words
    when the title alone has fewer than two."""
    tokens = normalise(fact.title)
    if len(tokens) < 2 and fact.description:
        extra = normalise(fact.description[:DESCRIPTION_CHARS])
        tokens = tuple(dict.fromkeys(tokens + extra))[:MAX_TOKENS]
    return tokens


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b))


def in_window(facts: Iterable[IncidentFacts], now: datetime, days: int) -> list[IncidentFacts]:
    """The incidents opened in the `days` up to `now` (both ends included), by number."""
    since = now - timedelta(days=days)
    return sorted((f for f in facts if since <= f.opened_at <= now), key=attrgetter("number"))


def detect(
    facts: Iterable[IncidentFacts],
    now: datetime,
    *,
    days: int = DEFAULT_DAYS,
    min_size: int = DEFAULT_MIN_SIZE,
) -> list[Candidate]:
    """Candidates among `facts` (the caller passes only incidents not linked to a problem),
    biggest first, then most recently seen, then by key."""
    if days < 1 or min_size < 2:
        raise ValueError("detection needs a window of at least a day and groups of two or more")
    rows = in_window(facts, now, days)
    groups: list[tuple[str, CandidateKind, str, list[IncidentFacts]]] = []
    by_ci: dict[str, list[IncidentFacts]] = {}
    by_service_category: dict[tuple[str, str], list[IncidentFacts]] = {}
    for fact in rows:
        if fact.ci:
            by_ci.setdefault(fact.ci, []).append(fact)
        if fact.service and fact.category:
            by_service_category.setdefault((fact.service, fact.category), []).append(fact)
    for ci, members in by_ci.items():
        groups.append((f"ci:{ci}", CandidateKind.CI, f"CI {ci}", members))
    for (service, category), members in by_service_category.items():
        groups.append(
            (
                f"service:{service}|category:{category}",
                CandidateKind.SERVICE_CATEGORY,
                f"{service} / {category}",
                members,
            )
        )
    groups.extend(_text_groups(rows, min_size))
    return _candidates(groups, min_size)


def _candidates(
    groups: Sequence[tuple[str, CandidateKind, str, list[IncidentFacts]]], min_size: int
) -> list[Candidate]:
    chosen: dict[frozenset[str], Candidate] = {}
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    for key, kind, label, members in sorted(groups, key=lambda g: (rank[g[1]], g[0])):
        if len(members) < min_size:
            continue
        numbers = frozenset(m.number for m in members)
        if numbers in chosen:
            continue  # the same incidents, already explained by a more specific kind
        chosen[numbers] = _candidate(key, kind, label, members)
    return sorted(chosen.values(), key=lambda c: (-c.size, -c.last_seen.timestamp(), c.key))


def _candidate(
    key: str, kind: CandidateKind, label: str, members: list[IncidentFacts]
) -> Candidate:
    services = {m.service for m in members if m.service}
    opened = [m.opened_at for m in members]
    return Candidate(
        key=key,
        kind=kind,
        label=label,
        members=tuple(sorted(m.number for m in members)),
        first_seen=min(opened),
        last_seen=max(opened),
        service=next(iter(services)) if len(services) == 1 else None,
        cis=tuple(sorted({m.ci for m in members if m.ci})),
    )


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller index becomes the root, so roots do not depend on union order.
            self.parent[max(ra, rb)] = min(ra, rb)


def _text_groups(
    rows: list[IncidentFacts], min_size: int
) -> list[tuple[str, CandidateKind, str, list[IncidentFacts]]]:
    by_tokens: dict[frozenset[str], list[IncidentFacts]] = {}
    for fact in rows:  # rows come by number, so this order does not depend on the input's
        tokens = text_tokens(fact)
        if tokens:
            by_tokens.setdefault(frozenset(tokens), []).append(fact)
    sets = sorted(by_tokens, key=len)  # stable: equal sizes keep the by-number order
    links = _UnionFind(len(sets))
    _join(sets, links)
    clusters: dict[int, list[int]] = {}
    for index in range(len(sets)):
        clusters.setdefault(links.find(index), []).append(index)
    groups = []
    for indexes in clusters.values():
        members = [fact for i in indexes for fact in by_tokens[sets[i]]]
        if len(members) < min_size:
            continue
        members.sort(key=lambda f: f.number)
        key, label = _text_key_label([(sets[i], by_tokens[sets[i]]) for i in indexes])
        groups.append((key, CandidateKind.TEXT, label, members))
    return groups


def _join(sets: list[frozenset[str]], links: _UnionFind) -> None:
    """Union every two token sets whose Dice coefficient reaches TEXT_SIMILARITY.

    `sets` come smallest first, so when a set probes the index every indexed set is no larger;
    a set y can reach the threshold against x only if |y| >= |x| * t / (2 - t) (length
    filter) and, with tokens ordered rarest first, only if they share a token within x's first
    |x| - ceil(|x| * t / (2 - t)) + 1 tokens and y's likewise (prefix filter)."""
    frequency: Counter[str] = Counter(token for s in sets for token in s)
    rank = {token: i for i, token in enumerate(sorted(frequency, key=lambda t: (frequency[t], t)))}
    jaccard = TEXT_SIMILARITY / (2 - TEXT_SIMILARITY)
    index: dict[str, list[int]] = {}
    sizes = [len(tokens) for tokens in sets]
    for i, tokens in enumerate(sets):
        size = sizes[i]
        if size < 2:
            continue  # one word matches nothing but itself (2/3 < threshold), done by hashing
        ordered = sorted(tokens, key=rank.__getitem__)
        prefix = ordered[: size - math.ceil(size * jaccard - 1e-9) + 1]
        shortest = size * jaccard - 1e-9
        probed: set[int] = set()
        for token in prefix:
            block = index.get(token)
            if block:
                probed.update(block)
        for j in probed:
            other_size = sizes[j]
            if other_size < shortest:
                continue
            if 2 * len(tokens & sets[j]) >= TEXT_SIMILARITY * (size + other_size) - 1e-9:
                links.union(i, j)
        for token in prefix:
            block = index.setdefault(token, [])
            if len(block) < MAX_BLOCK:
                block.append(i)


def _text_key_label(parts: list[tuple[frozenset[str], list[IncidentFacts]]]) -> tuple[str, str]:
    """Key: the tokens at least half the members share (so it holds while the group grows),
    or the most common token set; label: a member's title from that most common set."""
    counts: Counter[str] = Counter()
    total = 0
    for tokens, members in parts:
        total += len(members)
        for token in tokens:
            counts[token] += len(members)
    common = sorted(t for t, n in counts.items() if 2 * n >= total)
    tokens, members = min(parts, key=lambda p: (-len(p[1]), sorted(p[0])))
    if not common:
        common = sorted(tokens)
    example = min(members, key=lambda f: f.number)
    return "text:" + "+".join(common[:KEY_TOKENS]), f"Similar: {example.title}"
