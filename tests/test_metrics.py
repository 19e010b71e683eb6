"""``/metrics`` on both databases: scraped after real activity (a chat message, a mail
refused by the real SMTP relay through the outbox, a breach found by the task runner at
the injected clock, a task nobody can run), parsed with prometheus_client's own parser;
refused from the wrong place; never a coach's or a coachee's data; and every query a
scrape runs reads an index, never a whole big table (EXPLAIN on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text

from ecoach.keys import SESSIONS
from ecoach.logbook.availability_models import Commitment
from ecoach.logbook.metrics_queries import statements
from ecoach.logbook.tasks import schedule_task
from ecoach.logbook.webhook_models import WebhookEndpoint
from tests.dovecot import wait_until
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture
from tests.support import app_client, login, seed, settings_for
from tests.webhook_support import run_tasks

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels (prometheus_client's parser)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float | None:  # type: ignore[type-arg]
    return found.get((name, tuple(sorted(labels.items()))))


async def scrape(client) -> dict:  # type: ignore[no-untyped-def, type-arg]
    response = await client.get("/metrics")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    body = await response.text()
    return samples(body) | {("_body", ()): body}  # type: ignore[dict-item]


@pytest.mark.awkward_clock
async def test_a_scrape_after_real_activity(db_url, clock, smtp_relay: SmtpRelay) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="marieke@example.org", coachee="Sanne Jansen",
                   coachee_email="sanne@example.org", language="en")
    smtp_relay.refuse("sanne@example.org", "550 5.1.1 No such user")
    settings = settings_for(db_url, metrics={"enabled": True}, scheduler={"enabled": False, "max_attempts": 1},
                            mail={"enabled": True, "domain": "coaching.test", "smtp_host": smtp_relay.host,
                                  "smtp_port": smtp_relay.port, "notify_coach": "off"})
    async with app_client(settings, clock) as client:
        app = client.server.app
        await login(client, "marieke@example.org")
        coach = await client.ws_connect("/ws")
        await coach.send_json({"type": "message", "engagement_id": a["engagement_id"], "client_id": "reply-0001",
                               "text": "Welkom", "channel": "mail"})
        while (await coach.receive_json(timeout=10))["type"] != "ack":
            pass
        coachee = await client.ws_connect(f"/c/{a['chat_token']}/ws")
        await coachee.send_json({"type": "message", "client_id": "coachee-01", "text": "Dank je"})
        while (await coachee.receive_json(timeout=10))["type"] != "ack":
            pass
        # The refused mail: the outbox gives up on a 550 (a permanent failure).
        await wait_until(lambda: _failed_mail(client))
        found = await scrape(client)
        assert value(found, "ecoach_exchanges_total", channel="mail", direction="out") == 1
        assert value(found, "ecoach_exchanges_total", channel="chat", direction="in") == 1
        assert value(found, "ecoach_mail_deliveries_total", state="failed") == 1
        assert value(found, "ecoach_open_sockets", kind="coach") == 1
        assert value(found, "ecoach_open_sockets", kind="coachee") == 1
        assert value(found, "ecoach_commitment_breaches_total", channel="chat") is None
        assert value(found, "ecoach_logins_total", step="password", outcome="ok") == 1
        await coachee.close()
        await coach.close()

        # A task nobody can run, due ten minutes ago: the lag, then (one attempt) parked.
        async with app[SESSIONS]() as session:
            await schedule_task(session, "nobody.runs.this", clock.now() - timedelta(minutes=10), now=clock.now())
            await session.commit()
        found = await scrape(client)
        assert value(found, "ecoach_task_lag_seconds") == 600
        assert value(found, "ecoach_task_lag_by_name_seconds", task="nobody.runs.this") == 600
        # An hour past its deadline (4 working hours), the chat message's answer is overdue:
        # the runner notes the breach.
        async with app[SESSIONS]() as session:
            due = (await session.execute(select(Commitment.due_at))).scalar_one()
        clock.set(due + timedelta(hours=1))
        await run_tasks(app)
        found = await scrape(client)
        assert value(found, "ecoach_commitment_breaches_total", channel="chat") == 1
        assert value(found, "ecoach_tasks_parked", task="nobody.runs.this") == 1
        assert value(found, "ecoach_task_lag_seconds") == 0
        assert value(found, "ecoach_open_sockets", kind="coachee") == 0
        assert value(found, "ecoach_outbox_mails", state="queued") == 0
        body = found[("_body", ())]
        for personal in ("marieke", "Marieke", "Sanne", "sanne", "example.org", a["chat_token"]):
            assert personal not in body
        if db_url.startswith("postgresql"):
            assert value(found, "ecoach_event_listener_connected") == 1


async def _failed_mail(client) -> bool:  # type: ignore[no-untyped-def]
    return value(samples(await (await client.get("/metrics")).text()), "ecoach_mail_deliveries_total",
                 state="failed") == 1


@SQLITE
async def test_metrics_are_refused_from_the_wrong_place(db_url, clock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with app_client(settings_for(db_url), clock) as client:
        assert (await client.get("/metrics")).status == 404  # off by default
    async with app_client(settings_for(db_url, metrics={"enabled": True}), clock) as client:
        assert (await client.get("/metrics")).status == 200  # from this machine
        # Through the (trusted, local) proxy for a client elsewhere: refused.
        response = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert response.status == 403
        assert (await client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})).status == 200
    token = tmp_path / "metrics-token"
    token.write_text("s3cret-token-for-prometheus\n")
    settings = settings_for(db_url, metrics={"enabled": True, "allowed_networks": "10.0.0.0/8",
                                             "token_file": str(token)})
    async with app_client(settings, clock) as client:
        assert (await client.get("/metrics")).status == 403
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 403
        good = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-token-for-prometheus"})
        assert good.status == 200 and "ecoach_task_lag_seconds" in await good.text()


# --- the queries of a scrape read indexes ---------------------------------------------------

BIG_TABLES = ("task", "mail_outbox", "webhook_delivery")


async def _plan(conn, stmt) -> str:  # type: ignore[no-untyped-def]
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    if conn.dialect.name == "sqlite":
        params = tuple(p.replace(tzinfo=None).isoformat(sep=" ") if hasattr(p, "tzinfo") else p for p in params)
        rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params)
        return "\n".join(str(row[-1]) for row in rows)
    rows = await conn.exec_driver_sql("EXPLAIN " + str(compiled), params)
    return "\n".join(str(row[0]) for row in rows)


async def test_every_scrape_query_reads_an_index(db_url, engine, clock) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    chosen = dict(statements(clock.now()))
    chosen.pop("webhooks_turned_off")  # webhook_endpoint: a few rows per coach
    # The stage hook's look-up, on every transaction with webhook events (the chat's too).
    chosen["stage_hook"] = select(WebhookEndpoint.id).where(WebhookEndpoint.coach_id.in_([1, 2]),
                                                           WebhookEndpoint.enabled.is_(True))
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Empty tables make a sequential scan cheapest; forbid it to see whether an index serves.
            await conn.execute(text("SET enable_seqscan = off"))
        for name, stmt in chosen.items():
            plan = await _plan(conn, stmt)
            for table in (*BIG_TABLES, "webhook_endpoint"):
                assert f"Seq Scan on {table}" not in plan, f"{name}: {plan}"
                assert not any(line.startswith(f"SCAN {table}") for line in plan.splitlines()), f"{name}: {plan}"
