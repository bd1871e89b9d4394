"""The booking state machine against a plain transition table, under random operations.

The hypothesis machine applies random operations (TOMP's and the provider's payment facts,
matching and mismatching) at random times to one booking and, after every step, checks the
result against :func:`expected` (a table written from the rules in the module's docstring,
not from its code) and the rules that must hold in every reachable booking: a ticket only
for a paid, confirmed booking; a refund only after the booking ended; ended stays ended.
Every operation the table refuses must raise ``ConflictError`` and leave the booking as it
was.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from central_hub.mobility.domain.booking import (
    Booking,
    BookingState,
    CheckoutOpened,
    IdempotencyAction,
    IdempotencyRecord,
    Operation,
    PaymentEvent,
    PaymentReceived,
    PaymentState,
    RefundRecorded,
    StoredResponse,
    decide,
    new_booking,
    request_fingerprint,
    transition,
    valid_idempotency_key,
)
from central_hub.mobility.errors import ConflictError

T0 = datetime(2025, 5, 6, 8, 0, tzinfo=UTC)
#: close enough that random waits cross the hold (T0 + 30 min) and the cancel deadline (+35)
DEPARTURE = T0 + timedelta(minutes=50)
S, P = BookingState, PaymentState
ENDED = {S.CANCELLED, S.EXPIRED, S.RELEASED}
PAYMENT_ORDER = [P.UNPAID, P.CHECKOUT_OPEN, P.PAID, P.REFUNDED]


def _booking(postponed: bool = False) -> Booking:
    return new_booking("b-1", amount_minor=350, currency="eur", departure_at=DEPARTURE, now=T0,
                       postponed_commit=postponed)


def expected(b: Booking, op: Operation | PaymentEvent,
             now: datetime) -> tuple[BookingState, PaymentState] | None:
    """The table: the (state, payment) after ``op``, or ``None`` when it is refused."""
    s, p = b.state, b.payment
    table: dict[tuple[BookingState, Operation], BookingState] = {
        (S.CONDITIONAL_CONFIRMED, Operation.COMMIT): S.CONFIRMED,
        (S.CONDITIONAL_CONFIRMED, Operation.DENY): S.RELEASED,
        (S.PENDING, Operation.CANCEL): S.CANCELLED,
        (S.CONDITIONAL_CONFIRMED, Operation.CANCEL): S.CANCELLED,
        (S.CONFIRMED, Operation.START): S.STARTED,
        (S.STARTED, Operation.FINISH): S.FINISHED,
    }
    if isinstance(op, Operation):
        if op is Operation.COMMIT and s is S.PENDING:
            if p is not P.PAID:
                return None
            return (S.CONDITIONAL_CONFIRMED if b.postponed_commit else S.CONFIRMED), p
        if op is Operation.CANCEL and s is S.CONFIRMED:
            return (S.CANCELLED, p) if now < DEPARTURE - timedelta(minutes=15) else None
        if op is Operation.EXPIRE:
            hold_over = now >= T0 + timedelta(minutes=30)
            may = (s is S.PENDING and p is not P.PAID) or s is S.CONDITIONAL_CONFIRMED
            return (S.EXPIRED, p) if hold_over and may else None
        after = table.get((s, op))
        return None if after is None else (after, p)
    if isinstance(op, CheckoutOpened):
        ok = s is S.PENDING and p is P.UNPAID and now < T0 + timedelta(minutes=30)
        return (s, P.CHECKOUT_OPEN) if ok else None
    if isinstance(op, PaymentReceived):
        ok = (p is P.CHECKOUT_OPEN and op.checkout_id == b.checkout_id
              and (op.amount_minor, op.currency.upper()) == (350, "EUR"))
        return (s, P.PAID) if ok else None
    ok = p is P.PAID and s in ENDED and (op.payment_id, op.amount_minor) == ("pi_1", 350)
    return (s, P.REFUNDED) if ok else None


GOOD_PAYMENT = PaymentReceived("cs_1", "pi_1", 350, "EUR")
GOOD_REFUND = RefundRecorded("pi_1", 350)
#: weighted towards the operations that move a booking on, so that every state is reached
OPERATIONS = st.one_of(
    st.sampled_from([Operation.COMMIT, Operation.COMMIT, Operation.START, Operation.FINISH,
                     Operation.CANCEL, Operation.EXPIRE, Operation.DENY]),
    st.sampled_from([CheckoutOpened("cs_1"), GOOD_PAYMENT, GOOD_REFUND]),
    st.builds(PaymentReceived, st.sampled_from(["cs_1", "cs_other"]), st.just("pi_1"),
              st.sampled_from([350, 349]), st.sampled_from(["EUR", "eur", "USD"])),
    st.builds(RefundRecorded, st.sampled_from(["pi_1", "pi_other"]), st.sampled_from([350, 100])),
)


class BookingMachine(RuleBasedStateMachine):
    """One booking, random operations at random (advancing) times."""

    def __init__(self) -> None:
        super().__init__()
        self.booking = _booking()
        self.now = T0
        self.was_confirmed = False
        self.ended_as: BookingState | None = None

    @initialize(postponed=st.booleans())
    def create(self, postponed: bool) -> None:
        self.booking = _booking(postponed)
        assert (self.booking.state, self.booking.payment) == (S.PENDING, P.UNPAID)

    @rule(minutes=st.sampled_from([0, 1, 2, 5, 10, 15]))
    def wait(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(op=OPERATIONS)
    def apply(self, op: Operation | PaymentEvent) -> None:
        before = self.booking
        want = expected(before, op, self.now)
        if want is None:
            with pytest.raises(ConflictError):
                transition(before, op, self.now)
            return
        after = transition(before, op, self.now)
        assert (after.state, after.payment) == want
        assert after.updated_at == self.now
        assert PAYMENT_ORDER.index(after.payment) >= PAYMENT_ORDER.index(before.payment)
        if after.state is S.CONFIRMED and before.state is not S.CONFIRMED:
            assert after.ticket_issued_at == self.now
            self.was_confirmed = True
        if after.state in ENDED and before.state is S.CONFIRMED:
            assert self.now < before.cancel_deadline  # cancelled inside the window only
        self.booking = after

    @invariant()
    def a_ticket_only_for_a_paid_confirmed_booking(self) -> None:
        b = self.booking
        if b.ticket_valid:
            assert b.payment is P.PAID and b.state in (S.CONFIRMED, S.STARTED)
        if b.state in (S.CONFIRMED, S.STARTED, S.FINISHED):
            assert b.payment is P.PAID and b.ticket_issued_at is not None
        if b.ticket_issued_at is not None:
            assert self.was_confirmed

    @invariant()
    def a_refund_only_when_the_booking_ended(self) -> None:
        b = self.booking
        assert b.refund_due == (b.payment is P.PAID and b.state in ENDED)
        if b.payment is P.REFUNDED:
            assert b.state in ENDED and not b.ticket_valid

    @invariant()
    def an_ended_booking_stays_ended(self) -> None:
        if self.ended_as is not None:
            assert self.booking.state is self.ended_as
        elif self.booking.state in ENDED | {S.FINISHED}:
            self.ended_as = self.booking.state


TestBookingMachine = BookingMachine.TestCase
TestBookingMachine.settings = settings(max_examples=60, stateful_step_count=20, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])


#: the instants where the rules change: before and at the hold's end, before and at the
#: cancel deadline, at the departure and after it
TIMES = [T0 + timedelta(minutes=m) for m in (0, 29, 30, 34, 35, 50, 60)]
ALL_OPERATIONS: list[Operation | PaymentEvent] = [
    *Operation, CheckoutOpened("cs_1"), GOOD_PAYMENT, GOOD_REFUND,
    PaymentReceived("cs_other", "pi_1", 350, "EUR"), PaymentReceived("cs_1", "pi_1", 349, "EUR"),
    PaymentReceived("cs_1", "pi_1", 350, "USD"), RefundRecorded("pi_other", 350),
    RefundRecorded("pi_1", 100)]


def test_every_reachable_booking_follows_the_table_for_every_operation_and_time() -> None:
    """Exhaustive where the machine above samples: from both kinds of booking, every
    operation at every interesting instant (never going back in time), breadth first."""
    start = [(_booking(postponed), T0) for postponed in (False, True)]
    seen = {(b, t) for b, t in start}
    queue = list(start)
    checked = 0
    while queue:
        booking, at = queue.pop()
        for now in (t for t in TIMES if t >= at):
            for op in ALL_OPERATIONS:
                checked += 1
                want = expected(booking, op, now)
                if want is None:
                    with pytest.raises(ConflictError):
                        transition(booking, op, now)
                    continue
                after = transition(booking, op, now)
                assert (after.state, after.payment) == want, (booking, op, now)
                assert not after.ticket_valid or (after.payment is P.PAID
                                                  and after.state in (S.CONFIRMED, S.STARTED))
                if (after, now) not in seen:
                    seen.add((after, now))
                    queue.append((after, now))
    reached = {(b.state, b.payment) for b, _ in seen}
    assert {(S.STARTED, P.PAID), (S.FINISHED, P.PAID), (S.EXPIRED, P.REFUNDED),
            (S.RELEASED, P.REFUNDED), (S.CANCELLED, P.REFUNDED)} <= reached
    assert checked > 10_000


# --- the paths a passenger takes, spelled out ----------------------------------------------


def _paid(b: Booking, at: datetime = T0) -> Booking:
    b = transition(b, CheckoutOpened("cs_1"), at)
    return transition(b, PaymentReceived("cs_1", "pi_1", 350, "EUR"), at)


def test_book_pay_commit_issues_a_ticket() -> None:
    b = transition(_paid(_booking()), Operation.COMMIT, T0 + timedelta(minutes=2))
    assert (b.state, b.payment, b.ticket_valid, b.refund_due) == (S.CONFIRMED, P.PAID, True,
                                                                  False)
    assert b.payment_id == "pi_1"


def test_commit_before_payment_is_a_conflict() -> None:
    with pytest.raises(ConflictError, match="not paid"):
        transition(_booking(), Operation.COMMIT, T0)


def test_cancel_inside_the_window_makes_a_refund_due_and_voids_the_ticket() -> None:
    b = transition(_paid(_booking()), Operation.COMMIT, T0)
    b = transition(b, Operation.CANCEL, DEPARTURE - timedelta(minutes=15, seconds=1))
    assert (b.state, b.ticket_valid, b.refund_due) == (S.CANCELLED, False, True)
    b = transition(b, RefundRecorded("pi_1", 350), DEPARTURE)
    assert (b.payment, b.refund_due) == (P.REFUNDED, False)


def test_cancel_after_the_window_is_a_conflict() -> None:
    b = transition(_paid(_booking()), Operation.COMMIT, T0)
    with pytest.raises(ConflictError, match="cancellation window closed"):
        transition(b, Operation.CANCEL, DEPARTURE - timedelta(minutes=15))


def test_a_payment_after_the_hold_ran_out_is_recorded_and_refunded() -> None:
    b = transition(_booking(), CheckoutOpened("cs_1"), T0)
    b = transition(b, Operation.EXPIRE, T0 + timedelta(minutes=30))
    b = transition(b, PaymentReceived("cs_1", "pi_1", 350, "EUR"), T0 + timedelta(minutes=31))
    assert (b.state, b.payment, b.refund_due, b.ticket_valid) == (S.EXPIRED, P.PAID, True,
                                                                  False)
    with pytest.raises(ConflictError):
        transition(b, Operation.COMMIT, T0 + timedelta(minutes=31))


def test_expire_waits_for_the_hold_and_spares_a_paid_booking() -> None:
    with pytest.raises(ConflictError, match="hold lasts until"):
        transition(_booking(), Operation.EXPIRE, T0 + timedelta(minutes=29))
    with pytest.raises(ConflictError, match="a paid one is committed"):
        transition(_paid(_booking()), Operation.EXPIRE, T0 + timedelta(minutes=40))


def test_a_payment_of_another_amount_or_checkout_is_refused() -> None:
    b = transition(_booking(), CheckoutOpened("cs_1"), T0)
    with pytest.raises(ConflictError, match="349 EUR was paid"):
        transition(b, PaymentReceived("cs_1", "pi_1", 349, "EUR"), T0)
    with pytest.raises(ConflictError, match="no open checkout"):
        transition(b, PaymentReceived("cs_2", "pi_1", 350, "EUR"), T0)


def test_postponed_commit_waits_for_the_operator() -> None:
    b = transition(_paid(_booking(postponed=True)), Operation.COMMIT, T0)
    assert (b.state, b.ticket_valid) == (S.CONDITIONAL_CONFIRMED, False)
    assert transition(b, Operation.COMMIT, T0).ticket_valid
    denied = transition(b, Operation.DENY, T0)
    assert (denied.state, denied.refund_due) == (S.RELEASED, True)


def test_new_booking_refuses_a_departure_in_the_past_and_naive_times() -> None:
    with pytest.raises(ConflictError, match="not in the future"):
        new_booking("b", amount_minor=350, currency="EUR", departure_at=T0, now=T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        new_booking("b", amount_minor=350, currency="EUR", departure_at=DEPARTURE,
                    now=T0.replace(tzinfo=None))
    near = new_booking("b", amount_minor=350, currency="EUR",
                       departure_at=T0 + timedelta(minutes=10), now=T0)
    assert near.expires_at == T0 + timedelta(minutes=10)  # the hold ends at the departure


# --- idempotency ---------------------------------------------------------------------------

FP = request_fingerprint("POST", "/api/v1/mobility/bookings", b'{"offer":"o-1"}')
DONE = StoredResponse(201, b'{"id":"b-1"}')


def test_the_first_request_with_a_key_proceeds() -> None:
    assert decide(None, FP, T0).action is IdempotencyAction.PROCEED


def test_the_same_request_again_replays_the_stored_response() -> None:
    d = decide(IdempotencyRecord("k", FP, T0, DONE), FP, T0 + timedelta(hours=1))
    assert (d.action, d.status, d.response) == (IdempotencyAction.REPLAY, 201, DONE)


def test_the_key_with_another_body_is_refused_with_422() -> None:
    other = request_fingerprint("POST", "/api/v1/mobility/bookings", b'{"offer":"o-2"}')
    d = decide(IdempotencyRecord("k", FP, T0, DONE), other, T0)
    assert (d.action, d.status) == (IdempotencyAction.REFUSE, 422)


def test_the_key_of_a_request_still_running_is_refused_with_409() -> None:
    d = decide(IdempotencyRecord("k", FP, T0, None), FP, T0)
    assert (d.action, d.status) == (IdempotencyAction.REFUSE, 409)


def test_an_expired_key_proceeds_as_new() -> None:
    d = decide(IdempotencyRecord("k", FP, T0, DONE), "other", T0 + timedelta(hours=24))
    assert d.action is IdempotencyAction.PROCEED


def test_fingerprints_and_keys() -> None:
    # the length prefix keeps the parts apart: moving a byte from path to body changes it
    assert request_fingerprint("POST", "/a", b"bc") != request_fingerprint("POST", "/ab", b"c")
    assert request_fingerprint("post", "/a", b"") == request_fingerprint("POST", "/a", b"")
    assert valid_idempotency_key("4f1c-9a")
    assert not valid_idempotency_key("")
    assert not valid_idempotency_key("a b")
    assert not valid_idempotency_key("x" * 256)
