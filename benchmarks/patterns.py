"""Time recurring-incident detection over 100,000 incidents in a 30-day window.

Generates N incidents (default 100,000; `--quick`: 10,000) spread over 30 days with a fixed
seed: planted clusters the detector must find (50 on one CI each, 50 on one service and
category each, 50 of paraphrased titles: inflections, filler words, host names and ticket
numbers, sometimes an extra word) and noise (unique titles mixing common fault words with
rare ones; most incidents name a service, some a category or one of many CIs, so noise forms
candidates of its own as a real desk's would). Then times:
- the domain detector alone on the in-memory facts (shuffled, so input order is no help);
- the service path on SQLite: loading the window's unlinked incidents (one query) and
  detecting, as `services.problem_candidates.find_candidates` does;
and prints candidates found and how many planted clusters came out exactly. CPU seconds are
printed next to wall seconds: on a busy machine they are the steadier figure.

    python benchmarks/patterns.py [--quick] [--incidents N]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from itsm_tui.clock import FixedClock
from itsm_tui.domain.patterns import Candidate, CandidateKind, IncidentFacts, detect, stem
from itsm_tui.services.problem_candidates import find_candidates, load_facts
from itsm_tui.store.database import open_database
from itsm_tui.store.models import NO_SLA_DUE, ConfigItem, Incident, Service

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)
PLANTED_PER_KIND = 50
SERVICES = 40
CATEGORIES = ("network", "hardware", "software", "access", "email", "storage", "printing")
FAULTS = (
    "crash",
    "slow",
    "freeze",
    "timeout",
    "error",
    "fail",
    "hang",
    "reboot",
    "offline",
    "disconnect",
    "jam",
    "full",
    "locked",
    "expired",
    "missing",
    "corrupt",
    "latency",
    "denied",
    "stuck",
    "bounce",
)
OBJECTS = (
    "outlook",
    "teams",
    "excel",
    "printer",
    "scanner",
    "laptop",
    "monitor",
    "vpn",
    "wifi",
    "badge",
    "payroll",
    "portal",
    "database",
    "backup",
    "share",
    "mailbox",
    "calendar",
    "phone",
    "headset",
    "browser",
)
FILLER = ("keeps", "when", "at", "on", "again", "still", "after", "since", "please", "not")


def words(rng: random.Random, count: int) -> list[str]:
    """Pronounceable made-up words with distinct stems (they stand for site names, apps,
    error codes: the rare words that make one incident unlike another)."""
    consonants, vowels = "bcdfghjklmnprstvwxz", "aeiou"
    seen: dict[str, str] = {}
    while len(seen) < count:
        letters = [rng.choice(consonants if i % 2 == 0 else vowels) for i in range(5)]
        word = "".join(letters) + rng.choice("aeo") + rng.choice(("", "n", "r"))
        seen.setdefault(stem(word), word)
    return list(seen.values())


def paraphrase(rng: random.Random, base: list[str], extras: list[str]) -> str:
    parts = []
    for word in base:
        parts.append(word + rng.choice(("", "", "s", "ing", "ed")))
        if rng.random() < 0.4:
            parts.append(rng.choice(FILLER))
    if rng.random() < 0.3:
        parts.append(rng.choice(extras))
    if rng.random() < 0.3:
        parts.append(f"on srv-{rng.randint(1, 99):02d}.corp.local #{rng.randint(1000, 9999)}")
    first = rng.randrange(len(parts))
    parts[first] = parts[first].capitalize()
    return " ".join(parts)


def generate(count: int, seed: int) -> tuple[list[IncidentFacts], dict[str, frozenset[str]]]:
    """Incidents and the planted clusters (key -> member numbers)."""
    rng = random.Random(seed)
    vocabulary = words(rng, 60_000)
    rare, bases = vocabulary[:55_000], vocabulary[55_000:]
    cis = [f"ci-{i:05d}" for i in range(30_000)]
    services = [f"Service {i:02d}" for i in range(SERVICES)]
    numbers = iter(range(1, count + 1))
    facts: list[IncidentFacts] = []
    planted: dict[str, set[str]] = {}

    def add(title: str, **fields: str | None) -> str:
        number = f"INC{next(numbers):07d}"
        opened = NOW - timedelta(seconds=rng.randrange(int(WINDOW.total_seconds())))
        facts.append(IncidentFacts(number=number, opened_at=opened, title=title, **fields))
        return number

    def noise_title() -> str:
        return f"{rng.choice(OBJECTS)} {rng.choice(FAULTS)} {rng.choice(rare)} {rng.choice(rare)}"

    for i in range(PLANTED_PER_KIND):
        key = f"ci:planted-ci-{i}"
        planted[key] = {
            add(noise_title(), ci=f"planted-ci-{i}", service=rng.choice(services))
            for _ in range(rng.randint(3, 15))
        }
        service, category = f"Planted service {i}", f"planted-{i}"
        planted[f"service:{service}|category:{category}"] = {
            add(noise_title(), service=service, category=category)
            for _ in range(rng.randint(3, 15))
        }
        base = bases[3 * i : 3 * i + 3]
        planted[f"text:{'+'.join(sorted(stem(w) for w in base))}"] = {
            add(paraphrase(rng, base, rare), service=rng.choice(services))
            for _ in range(rng.randint(3, 15))
        }
    while len(facts) < count:
        if rng.random() < 0.1:
            title = f"{rng.choice(OBJECTS)} {rng.choice(FAULTS)}"  # terse, common words only
        else:
            title = noise_title()
        add(
            title,
            service=rng.choice(services) if rng.random() < 0.8 else None,
            category=rng.choice(CATEGORIES) if rng.random() < 0.5 else None,
            ci=rng.choice(cis) if rng.random() < 0.3 else None,
        )
    return facts, {key: frozenset(members) for key, members in planted.items()}


def recovered(found: list[Candidate], planted: dict[str, frozenset[str]]) -> int:
    by_members = {frozenset(c.members) for c in found}
    return sum(members in by_members for members in planted.values())


def seed_database(url: str, facts: list[IncidentFacts]) -> None:
    database = open_database(url)
    services = sorted({f.service for f in facts if f.service})
    cis = sorted({(f.ci, f.service) for f in facts if f.ci}, key=lambda p: p[0])
    service_ids = {name: i for i, name in enumerate(services, 1)}
    ci_ids: dict[str, int] = {}
    with database.engine.begin() as connection:
        service_rows = [
            {"id": i, "name": n, "criticality": "medium", "created_at": NOW}
            for n, i in service_ids.items()
        ]
        connection.execute(insert(Service), service_rows)
        ci_rows = []
        for ci, service in cis:
            if ci in ci_ids:
                continue
            ci_ids[ci] = len(ci_ids) + 1
            ci_rows.append(
                {
                    "id": ci_ids[ci],
                    "name": ci,
                    "ci_class": "server",
                    "service_id": service_ids[service or services[0]],
                    "created_at": NOW,
                }
            )
        connection.execute(insert(ConfigItem), ci_rows)
        step = 20_000
        for first in range(0, len(facts), step):
            connection.execute(
                insert(Incident),
                [
                    {
                        "number": f.number,
                        "title": f.title,
                        "description": "",
                        "service_id": service_ids.get(f.service) if f.service else None,
                        "ci_id": ci_ids.get(f.ci) if f.ci else None,
                        "category": f.category,
                        "impact": 3,
                        "urgency": 3,
                        "priority": 5,
                        "state": "resolved",
                        "major": False,
                        "opened_at": f.opened_at,
                        "updated_at": f.opened_at,
                        "version": 1,
                        "sla_due_at": NO_SLA_DUE,
                    }
                    for f in facts[first : first + step]
                ],
            )
        connection.execute(text("ANALYZE"))
    database.dispose()


def timed_service(url: str) -> tuple[float, float, float, list[Candidate]]:
    """Wall and CPU seconds of `find_candidates`, and wall seconds of its load alone."""
    database = open_database(url)
    clock = FixedClock(NOW)
    with database.session() as session:
        started = time.perf_counter()
        load_facts(session, clock, days=30)
        load_s = time.perf_counter() - started
    with database.session() as session:
        started, cpu = time.perf_counter(), time.process_time()
        found = find_candidates(session, clock)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    database.dispose()
    return elapsed, cpu, load_s, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 incidents")
    parser.add_argument("--incidents", type=int)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    count = args.incidents or (10_000 if args.quick else 100_000)
    facts, planted = generate(count, args.seed)
    random.Random(args.seed).shuffle(facts)

    started, cpu = time.perf_counter(), time.process_time()
    found = detect(facts, NOW)
    detect_s, detect_cpu_s = time.perf_counter() - started, time.process_time() - cpu

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        started = time.perf_counter()
        seed_database(url, facts)
        seed_s = time.perf_counter() - started
        service_s, service_cpu_s, load_s, served = timed_service(url)

    kinds = {kind: sum(c.kind == kind for c in found) for kind in CandidateKind}
    figures = {
        "incidents": count,
        "detect_s": round(detect_s, 3),
        "detect_cpu_s": round(detect_cpu_s, 3),
        "detect_incidents_per_s": round(count / detect_s),
        "service_load_and_detect_s": round(service_s, 3),
        "service_cpu_s": round(service_cpu_s, 3),
        "service_load_only_s": round(load_s, 3),
        "service_incidents_per_s": round(count / service_s),
        "candidates": len(found),
        **{f"candidates_{kind.value}": n for kind, n in kinds.items()},
        "planted_clusters": len(planted),
        "planted_recovered": recovered(found, planted),
        "service_matches_domain": [c.key for c in served] == [c.key for c in found],
        "seed_s": round(seed_s, 2),
    }
    print(f"{'figure':<30}{'value':>12}")
    for name, value in figures.items():
        print(f"{name:<30}{value!s:>12}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
