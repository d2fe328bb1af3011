"""Checkout: where money moves, so every step is guarded.

Checkout is one database transaction around one gateway charge:

1. insert the idempotency row (the unique (user, key) makes a concurrent twin wait for
   this transaction, then replay its answer);
2. price the items from the catalog (one query for both kinds, which also counts the
   key's voided attempts), reserve seats with a conditional UPDATE, insert the
   enrollments and bookings and flush (on PostgreSQL a seat and its booking are one
   statement), so every constraint that a concurrent purchase could trip has spoken
   before any money moves;
3. charge the card. The gateway's idempotency key is derived from ours and from the
   number of this key's attempts whose charge was voided: a retry after a timeout gets
   the first charge back (never a second one), a retry after a void charges anew;
4. write the purchase with its charge, its lines, their ledger entries, the receipt and
   the stored answer, and commit: one flush. If anything fails after the charge, the
   charge is voided (`_settle_failed_commit`), unless the purchase did commit after all
   or the database can't record the void: then the charge stays live, and a retry with
   the same key finds it again. A purchase is `paid` only on a live charge.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import uuid
from typing import Any

from sqlalchemy import String, bindparam, exists, func, literal_column, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from techtribe.advisories import seats
from techtribe.advisories.models import AdvisorySlot, Booking
from techtribe.auth.models import User
from techtribe.config import Settings
from techtribe.courses.models import Course, Enrollment
from techtribe.courses.service import enroll
from techtribe.db import utcnow
from techtribe.errors import Conflict, DomainError, NotFound
from techtribe.notifications.outbox import enqueue
from techtribe.purchases.ledger import record_sale, split
from techtribe.purchases.models import (
    IdempotencyKey,
    ItemKind,
    Purchase,
    PurchaseAttempt,
    PurchaseItem,
    PurchaseStatus,
)
from techtribe.purchases.payments import Charge, PaymentGateway
from techtribe.purchases.schemas import PurchaseCreate, PurchaseRead
from techtribe.purchases.service import money, purchase_view

log = logging.getLogger("techtribe.purchases")


class IdempotencyConflict(Conflict):
    code, detail_text = (
        "idempotency_conflict",
        "This Idempotency-Key was used with a different request.",
    )


class CourseUnavailable(Conflict):
    code, detail_text = "course_unavailable", "This course is not for sale."


class AdvisoryUnavailable(Conflict):
    code, detail_text = (
        "advisory_unavailable",
        "This advisory slot is cancelled or has already started.",
    )


class AlreadyOwned(Conflict):
    code, detail_text = "already_owned", "You already own this course."


class AlreadyBooked(Conflict):
    code, detail_text = "already_booked", "You already have a seat in this advisory slot."


class OwnItem(Conflict):
    code, detail_text = "own_item", "You can't buy your own course or advisory slot."


class MixedCurrency(DomainError):
    status, code, detail_text = (
        422,
        "mixed_currency",
        "All items of a purchase must be priced in one currency.",
    )


def request_hash(settings: Settings, user_id: uuid.UUID, body: PurchaseCreate) -> str:
    """A keyed hash of the request: tells replays from reuse.

    Only what may be stored goes in (brand, last four, expiry, holder): nothing derived
    from the hidden digits of the number or from the CVC reaches the database, not even
    as an HMAC (a 16-digit number with a known prefix and last four is guessable).
    """
    card = body.payment
    canonical = json.dumps(
        {
            "items": [[item.kind, str(item.id)] for item in body.items],
            "card": [card.brand, card.last4, card.exp_month, card.exp_year, card.holder_name],
        },
        separators=(",", ":"),
    )
    key = settings.jwt_secret.get_secret_value().encode()
    return hmac.new(key, f"{user_id}:{canonical}".encode(), hashlib.sha256).hexdigest()


async def checkout(
    session: AsyncSession,
    settings: Settings,
    gateway: PaymentGateway,
    *,
    buyer: User,
    key: str,
    body: PurchaseCreate,
) -> tuple[int, dict[str, Any]]:
    """Buy the items once per key; returns the answer (status, body) to give, first or replayed."""
    buyer_id, buyer_email, buyer_name = buyer.id, buyer.email, buyer.full_name
    fingerprint = request_hash(settings, buyer_id, body)
    record = IdempotencyKey(user_id=buyer_id, key=key, request_hash=fingerprint)
    session.add(record)
    try:
        await session.flush()
    except IntegrityError:
        # Another request with this key committed first (we waited for it): replay it.
        await session.rollback()
        return await _replay(session, buyer_id, key, fingerprint)

    lines, attempt = await _priced_lines(session, buyer_id, key, body)
    currencies = {line.currency for line in lines}
    if len(currencies) > 1:
        raise MixedCurrency()
    try:
        for line in lines:
            if line.kind == ItemKind.advisory:
                await seats.take_seat(session, slot_id=line.target_id, user_id=buyer_id)
        # After the seats: their UPDATE would flush these first.
        for line in lines:
            if line.kind == ItemKind.course:
                enroll(session, user_id=buyer_id, course_id=line.target_id)
        await session.flush()
    except IntegrityError as exc:
        raise _ownership_conflict(exc) from None

    total = sum(line.price_cents for line in lines)
    currency = currencies.pop()
    card = body.payment
    purchase_id = uuid.uuid4()
    charge = None
    if total > 0:
        gateway_key = f"tt-purchase-{fingerprint[:32]}-{_digest(key)}-{attempt}"
        # One id per attempt: a retry sends the gateway the very same request (a real
        # gateway refuses a key whose parameters changed, the description included).
        purchase_id = uuid.uuid5(_PURCHASE_IDS, gateway_key)
        charge = await gateway.charge(
            amount_cents=total,
            currency=currency,
            card=card,
            idempotency_key=gateway_key,
            description=f"TechTribe purchase {purchase_id}",
        )
    try:
        purchase = Purchase(
            id=purchase_id,
            user_id=buyer_id,
            status=PurchaseStatus.paid,
            total_cents=total,
            currency=currency,
            card_brand=card.brand,
            card_last4=card.last4,
            card_exp_month=card.exp_month,
            card_exp_year=card.exp_year,
            gateway_charge_id=charge.id if charge else None,
            created_at=utcnow(),
        )
        session.add(purchase)
        for position, line in enumerate(lines):
            fee, share = split(line.price_cents, settings.platform_fee_percent)
            line.purchase_id, line.position = purchase.id, position
            line.platform_fee_cents, line.instructor_share_cents = fee, share
            line.id, line.created_at = uuid.uuid4(), purchase.created_at
            session.add(line)
            record_sale(session, line, purchase.created_at)
        view = purchase_view(purchase, lines)
        record.purchase_id = purchase.id
        record.response_status = 201
        record.response_body = view.model_dump(mode="json")
        if buyer_email:
            await _mail_receipt(session, buyer_id, buyer_email, buyer_name, view)
        await session.commit()
    except Exception:
        if charge is not None:
            # Let go of the key's row first: the settling below waits on it.
            with contextlib.suppress(Exception):
                await session.rollback()
            engine = session.bind
            assert isinstance(engine, AsyncEngine)
            await _settle_failed_commit(engine, gateway, buyer_id=buyer_id, key=key, charge=charge)
        raise
    return 201, record.response_body


_PURCHASE_IDS = uuid.UUID("5f0c2a1e-6d1b-4c55-9a3e-7d2f1b8e4a10")


async def _settle_failed_commit(
    engine: AsyncEngine,
    gateway: PaymentGateway,
    *,
    buyer_id: uuid.UUID,
    key: str,
    charge: Charge,
) -> None:
    """The purchase did not commit (as far as we know) after its card was charged.

    Decides on a fresh connection, holding the key: inserting the key's row again waits
    for any transaction still holding it and fails if one committed (ours, whose COMMIT
    answer was lost with its connection, or a concurrent retry). A committed purchase on
    this charge keeps it. Otherwise the void is recorded (so the key's next attempt gets a
    new gateway key) and committed *before* the gateway is asked: a void nobody recorded
    would let a retry receive the voided charge. When the database can't even be asked,
    the charge stays live: a retry with the same key reuses it, and `techtribe reconcile`
    lists it if nobody retries.
    """
    try:
        async with AsyncSession(engine, expire_on_commit=False) as probe:
            holder = IdempotencyKey(user_id=buyer_id, key=key, request_hash="-")
            probe.add(holder)
            try:
                await probe.flush()
            except IntegrityError:
                await probe.rollback()
                kept = await probe.scalar(
                    select(Purchase.gateway_charge_id)
                    .join(IdempotencyKey, IdempotencyKey.purchase_id == Purchase.id)
                    .where(IdempotencyKey.user_id == buyer_id, IdempotencyKey.key == key)
                )
                if kept == charge.id:
                    log.warning(
                        "purchase with charge %s committed although its COMMIT failed; kept",
                        charge.id,
                    )
                    return
            else:
                probe.add(
                    PurchaseAttempt(
                        user_id=buyer_id,
                        key=key,
                        charge_id=charge.id,
                        amount_cents=charge.amount_cents,
                        currency=charge.currency,
                    )
                )
                await probe.delete(holder)
                await probe.commit()
    except Exception:
        log.critical(
            "purchase failed to commit after charge %s and the database can't record a void: "
            "the charge stays live (a retry with the same Idempotency-Key reuses it; "
            "`techtribe reconcile` lists it otherwise)",
            charge.id,
            exc_info=True,
        )
        return
    await _void(gateway, charge.id, charge.amount_cents)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def _replay(
    session: AsyncSession, buyer_id: uuid.UUID, key: str, fingerprint: str
) -> tuple[int, dict[str, Any]]:
    stored = await session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.user_id == buyer_id, IdempotencyKey.key == key)
    )
    if stored is None or stored.response_status is None or stored.response_body is None:
        # The row vanished between the conflict and the read (never on a committed key).
        raise IdempotencyConflict("This Idempotency-Key is in use; retry the request.")
    if not hmac.compare_digest(stored.request_hash, fingerprint):
        raise IdempotencyConflict()
    return stored.response_status, stored.response_body


async def _void(gateway: PaymentGateway, charge_id: str, amount_cents: int) -> None:
    """The charge went through but the purchase did not commit: give the money back.

    The charge has been recorded as voided already, so whatever happens here no
    purchase will ever point at it.
    """
    try:
        await gateway.refund(
            charge_id=charge_id, amount_cents=amount_cents, idempotency_key=f"void-{charge_id}"
        )
        log.error("purchase failed to commit after charge %s; the charge was refunded", charge_id)
    except Exception:
        # Left for an operator: the log names the charge to refund by hand.
        log.critical("purchase failed to commit after charge %s and its refund failed", charge_id)


# What a line needs of each item, whether the buyer already has it, and the key's attempt
# number (how many of its charges were voided): one query for both kinds, built once (the
# buyer, the key, the time and the ids are bind parameters). It runs after the key's row
# is ours, so the count is final: a void is recorded only by whoever holds that row.
_ATTEMPT = (
    select(func.count())
    .select_from(PurchaseAttempt)
    .where(
        PurchaseAttempt.user_id == bindparam("buyer_id"), PurchaseAttempt.key == bindparam("key")
    )
    .scalar_subquery()
)
_OFFERS = union_all(
    select(
        Course.id,
        literal_column("'course'", String).label("kind"),
        Course.instructor_id,
        Course.title,
        Course.price_cents,
        Course.currency,
        (~Course.published | Course.archived).label("closed"),
        exists()
        .where(Enrollment.user_id == bindparam("buyer_id"), Enrollment.course_id == Course.id)
        .label("owned"),
        _ATTEMPT.label("attempt"),
    ).where(Course.id.in_(bindparam("course_ids", expanding=True))),
    select(
        AdvisorySlot.id,
        literal_column("'advisory'", String).label("kind"),
        AdvisorySlot.instructor_id,
        AdvisorySlot.topic.label("title"),
        AdvisorySlot.price_cents,
        AdvisorySlot.currency,
        (
            AdvisorySlot.cancelled_at.is_not(None)
            | (AdvisorySlot.starts_at <= bindparam("now", type_=AdvisorySlot.starts_at.type))
        ).label("closed"),
        exists()
        .where(Booking.user_id == bindparam("buyer_id"), Booking.slot_id == AdvisorySlot.id)
        .label("owned"),
        _ATTEMPT.label("attempt"),
    ).where(AdvisorySlot.id.in_(bindparam("slot_ids", expanding=True))),
)


async def _priced_lines(
    session: AsyncSession, buyer_id: uuid.UUID, key: str, body: PurchaseCreate
) -> tuple[list[PurchaseItem], int]:
    """One unsaved line per item, priced from the catalog now, and the key's attempt
    number; refuses what can't be sold."""
    rows = await session.execute(
        _OFFERS,
        {
            "buyer_id": buyer_id,
            "key": key,
            "now": utcnow(),
            "course_ids": [item.id for item in body.items if item.kind == ItemKind.course],
            "slot_ids": [item.id for item in body.items if item.kind == ItemKind.advisory],
        },
    )
    offers = {(row.kind, row.id): row for row in rows}
    lines = []
    for item in body.items:
        offer = offers.get((item.kind, item.id))
        if item.kind == ItemKind.course:
            if offer is None:
                raise NotFound(f"No course with id {item.id}.")
            if offer.instructor_id == buyer_id:
                raise OwnItem()
            if offer.closed:
                raise CourseUnavailable()
            if offer.owned:
                raise AlreadyOwned()
            line = PurchaseItem(kind=ItemKind.course, course_id=offer.id)
        else:
            if offer is None:
                raise NotFound(f"No advisory slot with id {item.id}.")
            if offer.instructor_id == buyer_id:
                raise OwnItem()
            if offer.closed:
                raise AdvisoryUnavailable()
            if offer.owned:
                raise AlreadyBooked()
            line = PurchaseItem(kind=ItemKind.advisory, slot_id=offer.id)
        line.instructor_id, line.title = offer.instructor_id, offer.title
        line.price_cents, line.currency = offer.price_cents, offer.currency
        lines.append(line)
    # Every row carries the same count; there is at least one row once every item was found.
    return lines, next(iter(offers.values())).attempt


def _ownership_conflict(exc: IntegrityError) -> DomainError:
    """A unique constraint that a concurrent purchase by the same member won."""
    message = str(exc.orig)
    if "enrollments" in message:
        return AlreadyOwned()
    if "bookings" in message:
        return AlreadyBooked()
    raise exc


async def _mail_receipt(
    session: AsyncSession, user_id: uuid.UUID, email: str, name: str, view: PurchaseRead
) -> None:
    await enqueue(
        session,
        kind="purchase_receipt",
        recipient=email,
        user_id=user_id,
        data={
            "purchase_id": str(view.id),
            "name": name,
            "items": [
                {"title": item.title, "price": money(item.price_cents, item.currency)}
                for item in view.items
            ],
            "total": money(view.total_cents, view.currency),
            "card": f"{view.card.brand} card ending in {view.card.last4}",
        },
    )
