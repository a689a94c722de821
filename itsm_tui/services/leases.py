"""One runner at a time for background loops, across processes and machines.

A lease row names its holder and an expiry. Taking it is a single write transaction (SQLite's
write lock, PostgreSQL's row lock), so two contenders can never both win; a holder renews it
on each pass, and a crashed holder's lease simply expires.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from itsm_tui.clock import Clock
from itsm_tui.services.tx import transaction
from itsm_tui.store.models import WorkerLease

SLA_EVALUATOR = "sla-evaluator"


def acquire(session: Session, clock: Clock, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease; False while someone else holds an unexpired one."""
    now = clock.now()
    with transaction(session):
        lease = session.exec(
            select(WorkerLease).where(WorkerLease.name == name).with_for_update()
        ).first()
        if lease is None:
            session.add(WorkerLease(name=name, holder=holder, expires_at=now + ttl))
            return True
        if lease.holder != holder and lease.expires_at > now:
            return False
        lease.holder, lease.expires_at = holder, now + ttl
        session.add(lease)
        return True


def release(session: Session, name: str, holder: str) -> None:
    with transaction(session):
        lease = session.get(WorkerLease, name)
        if lease is not None and lease.holder == holder:
            session.delete(lease)


def holder_of(session: Session, clock: Clock, name: str) -> str | None:
    lease = session.get(WorkerLease, name)
    session.commit()
    if lease is None or lease.expires_at <= clock.now():
        return None
    return lease.holder
