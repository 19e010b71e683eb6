"""Two real ``ecoach serve`` processes on one PostgreSQL share the webhook deliveries:
each delivery reaches the receiver exactly once, while both send side by side."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from ecoach.actions.coaches import do_add_coach
from ecoach.actions.engagements import do_create_engagement
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.actions.webhooks import check_endpoint, do_create_endpoint, stage_hook
from ecoach.core.clock import FixedClock
from ecoach.core.events import EventBus
from ecoach.core.hub import Hub
from ecoach.core.webhooks import EXCHANGE_IN
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.task_models import Task
from ecoach.logbook.webhook_models import WebhookDelivery
from ecoach.settings import WebhookSettings
from tests.conftest import START, fresh_keyring
from tests.dovecot import wait_until
from tests.server_process import ServerProcess
from tests.webhook_support import Receiver, receiver  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[1]
EVENTS = 200
SECRET = "browser-test-secret"  # the servers' secret key (tests/server_process.py)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_two_processes_deliver_each_event_once(db_url: str, tmp_path: Path, receiver: Receiver) -> None:
    engine = create_engine(db_url)
    bus = EventBus(Hub())
    bus.add_stage_hook(stage_hook(FixedClock(START), lambda: None))  # as in a server process
    sessions = session_factory(engine, bus, fresh_keyring())  # the servers' master key (tests/conftest.py)
    servers = []
    try:
        async with sessions() as session:
            coach = await do_add_coach(session, name="Coach", email="coach@example.org", password="x" * 16,
                                       language="en", time_zone="Europe/Amsterdam", now=START)
            engagement = (await do_create_engagement(session, coach, coachee_name="Sanne", now=START,
                                                     secret=SECRET)).engagement
            form = check_endpoint(receiver.url, [EXCHANGE_IN], "", False, WebhookSettings(allow_private_addresses=True))
            await do_create_endpoint(session, coach.id, form, settings=WebhookSettings(), secret_key=SECRET, now=START)
            await session.commit()
        for n in range(2):
            workdir = tmp_path / f"server{n}"
            workdir.mkdir()
            server = ServerProcess(workdir, db_url, clock=START, clock_runs=True, PYTHONPATH=str(ROOT),
                                   ECOACH_AUTO_MIGRATE="false", ECOACH_SCHEDULER__POLL_SECONDS="0.2",
                                   ECOACH_SCHEDULER__BATCH_SIZE="10", ECOACH_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES="true",
                                   ECOACH_WEBHOOKS__TIMEOUT_SECONDS="60")
            server.start()
            servers.append(server)
        # Nothing is answered until both processes send at once (four each on PostgreSQL).
        receiver.gate = 8
        for batch in range(EVENTS // 10):
            items = [NewExchange(engagement_id=engagement.id, channel="chat", direction="in", author="coachee",
                                 author_name="Sanne", text=f"bericht {batch}-{i}", external_id=f"chat:{batch}-{i}")
                     for i in range(10)]
            async with sessions() as session:
                await record_exchanges(session, items, START)
                await session.commit()

        async def delivered() -> bool:
            async with sessions() as session:
                done = await session.scalar(select(func.count()).select_from(WebhookDelivery)
                                            .where(WebhookDelivery.status == "delivered"))
            return done == EVENTS

        await wait_until(delivered, timeout=120)
        ids = [r.delivery for r in receiver.received]
        assert len(ids) == EVENTS and len(set(ids)) == EVENTS
        async with sessions() as session:
            workers = set((await session.execute(select(Task.claimed_by).where(Task.name == "webhooks.deliver")))
                          .scalars())
        assert len(workers) == 2
    finally:
        for server in servers:
            server.stop()
        await engine.dispose()
