from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import nats
import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import literal_column, select, update
from sqlalchemy.orm import Session

from naadloos.channels import service
from naadloos.channels.events import ChannelCreated
from naadloos.channels.kinds import ChannelKind
from naadloos.channels.schemas import ChannelCreate
from naadloos.inventory.events import StockChanged
from naadloos.kit.events import (
    MOST_CARRIED,
    Envelope,
    carried,
    emit,
    outbox_cte,
    take_pending,
    write_pending,
)
from naadloos.kit.models import OutboxEvent, ProcessedEvent
from naadloos.kit.nats import NatsPublisher
from naadloos.kit.outbox import Dispatcher, DispatchResult
from naadloos.kit.prepared import Prepared
from naadloos.kit.settings import Settings
from naadloos.kit.time import utcnow
from naadloos.runtime import Runtime, build_runtime
from tests.conftest import NatsTarget

CRASH_SCRIPT = Path(__file__).with_name("crash_during_delivery.py")


def create_store(runtime: Runtime, code: str = "store:utrecht") -> None:
    with runtime.db.unit_of_work() as session:
        service.create_channel(session, ChannelCreate(code=code, name=code, kind=ChannelKind.STORE))


def drain_and_close(rt: Runtime) -> int:
    """Deliver what is due with a runtime of its own, then close it (in one event loop, as the
    NATS client belongs to the loop that made it)."""

    async def run() -> int:
        try:
            return await rt.dispatcher.drain()
        finally:
            await rt.close()

    return asyncio.run(run())


def outbox(runtime: Runtime) -> list[OutboxEvent]:
    with runtime.db.unit_of_work(write=False) as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)))


def test_an_event_exists_only_if_its_change_was_committed(runtime: Runtime) -> None:
    def failing_request() -> None:
        with runtime.db.unit_of_work() as session:
            service.create_channel(
                session, ChannelCreate(code="store:x", name="X", kind=ChannelKind.STORE)
            )
            raise RuntimeError("the request failed after the change")

    with pytest.raises(RuntimeError):
        failing_request()

    assert outbox(runtime) == []


def channel_created(code: str) -> ChannelCreated:
    return ChannelCreated(code=code, name=code, kind="web", capabilities=[])


def test_a_transactions_events_are_written_at_its_commit_in_the_order_emitted(
    runtime: Runtime,
) -> None:
    codes = [f"c{n}" for n in range(70)]  # more than one INSERT's worth
    with runtime.db.unit_of_work() as session:
        for code in codes:
            emit(session, channel_created(code))
        assert session.scalars(select(OutboxEvent)).all() == []  # not yet: at the commit
        write_pending(session)  # a reader in the same transaction asks for them
        assert len(session.scalars(select(OutboxEvent)).all()) == 70
        emit(session, channel_created("last"))

    assert [e.payload["code"] for e in outbox(runtime)] == [*codes, "last"]


def test_events_of_a_rolled_back_transaction_or_savepoint_are_never_written(
    runtime: Runtime,
) -> None:
    session = runtime.db.session(write=True)
    try:
        emit(session, channel_created("rolled-back"))
        session.rollback()
        emit(session, channel_created("kept"))
        savepoint = session.begin_nested()
        emit(session, channel_created("in-a-savepoint"))
        savepoint.rollback()
        session.commit()
        emit(session, channel_created("closed-without-commit"))
    finally:
        session.close()
    with runtime.db.unit_of_work() as later:  # the same session factory, a fresh transaction
        emit(later, channel_created("later"))

    assert [e.payload["code"] for e in outbox(runtime)] == ["kept", "later"]


def test_a_statement_can_carry_the_pending_events_in_their_order(runtime: Runtime) -> None:
    """On PostgreSQL a statement of a transaction takes its pending events along in a CTE
    (a reservation's rows do): those it takes are written with it, the rest at the commit."""
    codes = [f"c{n}" for n in range(MOST_CARRIED + 3)]
    if runtime.db.dialect != "postgresql":  # no INSERT in a CTE: all wait for the commit
        with runtime.db.unit_of_work() as session:
            for code in codes:
                emit(session, channel_created(code))
            assert take_pending(session) == {}
        assert [e.payload["code"] for e in outbox(runtime)] == codes
        return
    with runtime.db.unit_of_work() as session:
        for code in codes:
            emit(session, channel_created(code))
        params = take_pending(session)
        assert carried(params) == MOST_CARRIED
        carrier = Prepared(select(literal_column("1")).add_cte(outbox_cte(MOST_CARRIED)))
        carrier.rows(session, params)
        assert len(session.scalars(select(OutboxEvent)).all()) == MOST_CARRIED
        emit(session, channel_created("last"))
        savepoint = session.begin_nested()
        assert take_pending(session) == {}  # its rollback would take them: they wait
        savepoint.commit()

    assert [e.payload["code"] for e in outbox(runtime)] == [*codes, "last"]


def test_subscribers_get_each_event_once(runtime: Runtime) -> None:
    seen: list[str] = []
    runtime.bus.subscribe(ChannelCreated, "recorder", lambda _s, e: seen.append(e.event().code))
    create_store(runtime, "store:a")
    create_store(runtime, "store:b")

    assert asyncio.run(runtime.dispatcher.drain()) == 2
    assert asyncio.run(runtime.dispatcher.drain()) == 0
    assert seen == ["store:a", "store:b"]
    assert all(e.delivered_at is not None for e in outbox(runtime))


def test_events_nobody_subscribes_to_are_settled_with_their_claim(runtime: Runtime) -> None:
    seen: list[str] = []
    runtime.bus.subscribe(ChannelCreated, "recorder", lambda _s, e: seen.append(e.event().code))
    with runtime.db.unit_of_work() as session:
        for n in range(3):  # three events no subscriber wants, one that a subscriber does
            emit(session, StockChanged(sku=f"SKU-{n}", location="store:a", on_hand=n, reserved=0,
                                       allocated=0, damaged=0, available=n, cause="received",
                                       reference=None))  # fmt: skip
    create_store(runtime, "store:a")
    commits: list[object] = []
    sqlalchemy_event.listen(runtime.db.engine, "commit", commits.append)

    assert asyncio.run(runtime.dispatcher.run_once()) == DispatchResult(delivered=4)

    assert seen == ["store:a"]
    rows = outbox(runtime)
    assert all(r.delivered_at is not None and r.attempts == 1 for r in rows)
    assert all(r.claimed_until is None for r in rows)
    with runtime.db.unit_of_work(write=False) as session:
        done = session.scalars(select(ProcessedEvent.consumer)).all()
    assert done == ["recorder"]
    # the claim (settling the three), the subscriber's own, the settling of the fourth
    assert len(commits) == 3
    commits.clear()
    with runtime.db.unit_of_work() as session:
        emit(session, StockChanged(sku="SKU-9", location="store:a", on_hand=1, reserved=0,
                                   allocated=0, damaged=0, available=1, cause="received",
                                   reference=None))  # fmt: skip
    commits.clear()
    assert asyncio.run(runtime.dispatcher.run_once()) == DispatchResult(delivered=1)
    assert len(commits) == 1  # nobody wants it: the claim is the whole round


def test_a_subscriber_runs_in_the_same_transaction_as_its_bookkeeping(runtime: Runtime) -> None:
    def react(session: Session, envelope: Envelope) -> None:
        emit(session, ChannelCreated(code="echo", name="e", kind="web", capabilities=[]))
        raise RuntimeError("the reaction fails after writing")

    runtime.bus.subscribe(ChannelCreated, "echoer", react)
    create_store(runtime)

    asyncio.run(runtime.dispatcher.run_once())

    rows = outbox(runtime)
    assert [r.name for r in rows] == ["ChannelCreated"]  # the failed reaction wrote nothing
    with runtime.db.unit_of_work(write=False) as session:
        assert session.scalars(select(ProcessedEvent)).all() == []


def test_a_subscriber_calling_out_holds_no_transaction_while_it_waits(runtime: Runtime) -> None:
    """A payment provider's answer can take seconds: meanwhile the database serves writers (on
    SQLite a held write transaction would make this inner write wait out the busy timeout)."""
    calls: list[str] = []

    def call_out(envelope: Envelope) -> Callable[[Session, Envelope], None]:
        calls.append(envelope.event().code)
        if envelope.event().code != "store:utrecht":
            return lambda _s, _e: None
        with runtime.db.unit_of_work() as other:  # another request writes meanwhile
            service.create_channel(
                other, ChannelCreate(code="store:meanwhile", name="m", kind=ChannelKind.STORE)
            )
        answer = f"answered {envelope.event().code}"

        def record(session: Session, _: Envelope) -> None:
            emit(session, ChannelCreated(code="echo", name=answer, kind="web", capabilities=[]))

        return record

    runtime.bus.subscribe_calling_out(ChannelCreated, "caller", call_out)
    create_store(runtime)
    started = time.monotonic()

    asyncio.run(runtime.dispatcher.run_once())
    asyncio.run(runtime.dispatcher.run_once())

    assert time.monotonic() - started < 5
    assert calls[0] == "store:utrecht"
    assert calls.count("store:utrecht") == 1  # done once: not called out again
    echoes = [r for r in outbox(runtime) if r.payload["code"] == "echo"]
    assert [e.payload["name"] for e in echoes] == ["answered store:utrecht"]


def test_on_sqlite_the_dispatcher_takes_turns_with_requests_on_the_event_loop(
    runtime: Runtime,
) -> None:
    """On SQLite requests run their database work on the event loop, and so does the
    dispatcher, an event at a time (a thread held the GIL and the write lock meanwhile); a
    subscriber that calls another system still waits on a thread. On PostgreSQL the round
    runs on a worker thread, as the requests' work does not."""
    threads: list[tuple[str, int]] = []
    turns: list[str] = []

    def react(_s: Session, envelope: Envelope) -> None:
        threads.append(("react", threading.get_ident()))
        turns.append(envelope.event().code)

    def call_out(_e: Envelope) -> Callable[[Session, Envelope], None]:
        threads.append(("call_out", threading.get_ident()))
        return lambda _s, _e: None

    runtime.bus.subscribe(ChannelCreated, "reactor", react)
    runtime.bus.subscribe_calling_out(StockChanged, "caller", call_out)
    create_store(runtime, "store:a")
    create_store(runtime, "store:b")
    with runtime.db.unit_of_work() as session:
        emit(session, StockChanged(sku="S-1", location="store:a", on_hand=1, reserved=0,
                                   allocated=0, damaged=0, available=1, cause="received",
                                   reference=None))  # fmt: skip

    async def round_beside_a_request() -> DispatchResult:
        async def request() -> None:
            await asyncio.sleep(0)
            turns.append("request")

        other = asyncio.ensure_future(request())
        result = await runtime.dispatcher.run_once()
        await other
        return result

    loop_thread = threading.get_ident()
    result = asyncio.run(round_beside_a_request())

    assert result.delivered == 3
    where = dict(threads)
    if runtime.db.dialect == "sqlite":
        assert where["react"] == loop_thread
        assert turns == ["store:a", "request", "store:b"]  # the request ran between the events
    else:
        assert where["react"] != loop_thread
    assert where["call_out"] != loop_thread
    assert outbox(runtime)[0].delivered_at is not None


def test_a_failing_subscriber_is_retried_later_without_repeating_the_others(
    runtime: Runtime,
) -> None:
    calls: Counter[str] = Counter()
    fail = {"flaky": True}

    def steady(_s: Session, _e: Envelope) -> None:
        calls["steady"] += 1

    def flaky(_s: Session, _e: Envelope) -> None:
        calls["flaky"] += 1
        if fail["flaky"]:
            raise ConnectionError("mail server down")

    runtime.bus.subscribe(ChannelCreated, "steady", steady)
    runtime.bus.subscribe(ChannelCreated, "flaky", flaky)
    create_store(runtime)

    first = asyncio.run(runtime.dispatcher.run_once())

    assert (first.delivered, first.failed) == (0, 1)
    [row] = outbox(runtime)
    assert row.delivered_at is None
    assert row.attempts == 1
    assert "mail server down" in (row.last_error or "")
    assert row.available_at > utcnow()  # backing off
    assert asyncio.run(runtime.dispatcher.run_once()).claimed == 0

    fail["flaky"] = False
    with runtime.db.unit_of_work() as session:  # time passes
        session.execute(update(OutboxEvent).values(available_at=utcnow() - timedelta(seconds=1)))
    assert asyncio.run(runtime.dispatcher.drain()) == 1

    assert calls == {"steady": 1, "flaky": 2}
    assert outbox(runtime)[0].delivered_at is not None


def test_an_event_is_given_up_after_the_last_attempt(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"outbox_max_attempts": 2})
    dispatcher = Dispatcher(runtime.db, runtime.bus, settings)

    def broken(_s: Session, _e: Envelope) -> None:
        raise ValueError("bug")

    runtime.bus.subscribe(ChannelCreated, "broken", broken)
    create_store(runtime)
    for _ in range(3):
        asyncio.run(dispatcher.run_once())
        with runtime.db.unit_of_work() as session:
            session.execute(update(OutboxEvent).values(available_at=utcnow()))

    [row] = outbox(runtime)
    assert row.attempts == 2
    assert row.delivered_at is None


def test_two_dispatchers_share_the_work_and_deliver_each_event_once(runtime: Runtime) -> None:
    handled: list[str] = []
    lock = threading.Lock()

    def record(_s: Session, e: Envelope) -> None:
        with lock:
            handled.append(str(e.event_id))

    runtime.bus.subscribe(ChannelCreated, "recorder", record)
    with runtime.db.unit_of_work() as session:
        for i in range(150):
            emit(session, ChannelCreated(code=f"c{i}", name="n", kind="web", capabilities=[]))
    settings = runtime.settings.model_copy(update={"dispatcher_batch_size": 20})
    dispatchers = [Dispatcher(runtime.db, runtime.bus, settings) for _ in range(2)]

    threads = [threading.Thread(target=lambda d=d: asyncio.run(d.drain())) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(handled) == 150
    assert len(set(handled)) == 150
    assert all(row.delivered_at is not None for row in outbox(runtime))


# -- NATS JetStream ------------------------------------------------------------------------------


def nats_settings(settings: Settings, target: NatsTarget, **extra: object) -> Settings:
    return settings.model_copy(
        update={
            "nats_url": target.url,
            "nats_stream": target.stream,
            "nats_subject_prefix": target.subject_prefix,
            **extra,
        }
    )


async def stream_messages(
    target: NatsTarget,
) -> list[tuple[str, dict[str, str], dict[str, object]]]:
    nc = await nats.connect(target.url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(target.stream)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(target.stream, seq)
            found.append((msg.subject, dict(msg.headers or {}), json.loads(msg.data)))
        return found
    finally:
        await nc.close()


@pytest.mark.nats
def test_events_are_published_to_jetstream_with_their_id_as_message_id(
    settings: Settings, runtime: Runtime, nats_target: NatsTarget
) -> None:
    rt = build_runtime(nats_settings(settings, nats_target))
    create_store(rt)
    assert drain_and_close(rt) == 1

    [(subject, headers, body)] = asyncio.run(stream_messages(nats_target))
    [row] = outbox(runtime)
    assert subject == f"{nats_target.subject_prefix}.ChannelCreated"
    assert headers["Nats-Msg-Id"] == str(row.event_id)
    assert body["id"] == str(row.event_id)
    assert body["name"] == "ChannelCreated"
    assert body["payload"]["code"] == "store:utrecht"


@pytest.mark.nats
def test_a_republished_event_is_stored_once(
    settings: Settings, runtime: Runtime, nats_target: NatsTarget
) -> None:
    create_store(runtime)
    [row] = outbox(runtime)
    envelope = Envelope(row.event_id, row.name, row.occurred_at, row.payload)

    async def publish_twice() -> tuple[bool, bool]:
        publisher = NatsPublisher(nats_target.url, nats_target.stream, nats_target.subject_prefix)
        try:
            return await publisher.publish(envelope), await publisher.publish(envelope)
        finally:
            await publisher.close()

    assert asyncio.run(publish_twice()) == (True, False)
    assert len(asyncio.run(stream_messages(nats_target))) == 1


def test_an_unreachable_broker_leaves_the_event_pending(
    settings: Settings, runtime: Runtime
) -> None:
    dead = settings.model_copy(
        update={"nats_url": "nats://127.0.0.1:1", "nats_connect_timeout_seconds": 0.3}
    )
    rt = build_runtime(dead)
    create_store(rt)

    async def once() -> DispatchResult:
        try:
            return await rt.dispatcher.run_once()
        finally:
            await rt.close()

    result = asyncio.run(once())

    assert (result.delivered, result.failed) == (0, 1)
    [row] = outbox(runtime)
    assert row.delivered_at is None
    assert "publish" in (row.last_error or "")


# -- a process that dies during delivery ---------------------------------------------------------


def run_and_kill(moment: str, settings: Settings) -> None:
    env = {
        **os.environ,
        "NAADLOOS_DATABASE_URL": settings.database_url,
        "NAADLOOS_NATS_URL": settings.nats_url or "",
        "NAADLOOS_NATS_STREAM": settings.nats_stream,
        "NAADLOOS_NATS_SUBJECT_PREFIX": settings.nats_subject_prefix,
        "NAADLOOS_DISPATCHER_LEASE_SECONDS": "0.5",
    }
    done = subprocess.run(
        [sys.executable, str(CRASH_SCRIPT), moment],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


@pytest.mark.nats
@pytest.mark.parametrize("moment", ["after-commit", "after-publish"])
def test_a_process_killed_during_delivery_delivers_on_restart(
    moment: str, settings: Settings, runtime: Runtime, nats_target: NatsTarget
) -> None:
    configured = nats_settings(settings, nats_target)
    run_and_kill(moment, configured)
    [row] = outbox(runtime)
    assert row.delivered_at is None  # committed, but not marked delivered
    time.sleep(0.6)  # the dead process's lease (if it had one) runs out

    handled: list[str] = []
    restarted = build_runtime(configured)
    restarted.bus.subscribe(
        "ChannelCreated", "crash-test-consumer", lambda _s, e: handled.append(str(e.event_id))
    )
    assert drain_and_close(restarted) == 1

    [row] = outbox(runtime)
    assert row.delivered_at is not None
    messages = asyncio.run(stream_messages(nats_target))
    assert [m[1]["Nats-Msg-Id"] for m in messages] == [str(row.event_id)]  # exactly one
    # The consumer ran once in all: in the dead process (after-publish) or after the restart.
    assert handled == ([] if moment == "after-publish" else [str(row.event_id)])
    with runtime.db.unit_of_work(write=False) as session:
        processed = session.scalars(select(ProcessedEvent)).all()
    assert [(p.consumer, p.event_id) for p in processed] == [("crash-test-consumer", row.event_id)]


def test_housekeeping_forgets_what_no_retry_can_need(runtime: Runtime) -> None:
    create_store(runtime, "store:old")
    asyncio.run(runtime.dispatcher.drain())
    create_store(runtime, "store:new")  # pending: must be kept whatever its age
    long_ago = utcnow() - timedelta(days=runtime.settings.outbox_retention_days + 1)
    with runtime.db.unit_of_work() as session:
        session.execute(update(OutboxEvent).values(occurred_at=long_ago))
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.delivered_at.is_not(None))
            .values(delivered_at=long_ago)
        )

    runtime.dispatcher.housekeeping()

    assert [row.payload["code"] for row in outbox(runtime)] == ["store:new"]
