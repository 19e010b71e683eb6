"""What ``/metrics`` shows (prometheus-client), for one server process.

Counters are fed by the event path: ``Metrics.observe`` is a bus observer
(``EventBus.observe``), so it sees every event this process commits, once, right after
the commit: exchanges by channel and direction, mail delivery outcomes, commitment
breaches, booking changes, webhook deliveries. Each process counts what it committed
itself; Prometheus adds the processes up.

Gauges are read when scraped (``Snapshot``): open sockets, IMAP readers, the event
listener, and a few small indexed reads of the database (``logbook.metrics_queries``):
task lag, parked tasks, the outbox, webhook deliveries. Labels are channels, states,
task names and mailbox names from the configuration: never a coach, a coachee or an
address.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ecoach.core.events import Event
from ecoach.logbook.metrics_queries import DatabaseFigures

READER_STATES = ("reading", "standby", "degraded")

# Where a chat message's time goes on the write path (``ExchangeWriter``): 0.5 ms to 2 s.
WRITE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
WRITE_PHASES = ("queue", "transaction", "commit")


@dataclass
class Snapshot:
    """Everything the gauges show, gathered just before a scrape is written."""

    now: datetime
    figures: DatabaseFigures
    sockets: dict[str, int] = field(default_factory=dict)
    readers: dict[str, str] = field(default_factory=dict)  # mailbox name -> reading, standby, degraded
    listener: dict[str, int] | None = None  # PostgreSQL only: connected, connects, received


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.exchanges = Counter("ecoach_exchanges", "Exchanges recorded, by channel and direction",
                                 ["channel", "direction"], registry=r)
        self.mail = Counter("ecoach_mail_deliveries", "Outgoing mail delivery outcomes (sent, retrying: a "
                            "temporary failure, failed: given up or bounced)", ["state"], registry=r)
        self.breaches = Counter("ecoach_commitment_breaches", "Response-time commitments missed, by channel",
                                ["channel"], registry=r)
        self.bookings = Counter("ecoach_booking_changes", "Sessions booked, rescheduled and cancelled",
                                ["change"], registry=r)
        self.webhooks = Counter("ecoach_webhook_deliveries", "Webhook delivery attempts by outcome (delivered, "
                                "retrying, failed: parked, skipped)", ["outcome"], registry=r)
        self.logins = Counter("ecoach_logins", "Login attempts by step and outcome (ok, failed, refused: "
                              "the login limiter said wait)", ["step", "outcome"], registry=r)
        write = Histogram("ecoach_chat_write_seconds", "The chat's write path by phase: queue (a message waits "
                          "for its batch), transaction (the batch's statements), commit (with its events handed "
                          "to the sockets)", ["phase"], buckets=WRITE_BUCKETS, registry=r)
        self._write_phases = {phase: write.labels(phase) for phase in WRITE_PHASES}
        # (channel, direction) -> its counter: ``labels()`` costs more than the count itself,
        # and every chat message passes here.
        self._exchange_counts: dict[tuple[str, str], Any] = {}
        self.loop_lag = Histogram("ecoach_event_loop_lag_seconds", "How late the event loop runs a timer "
                                  "(time taken by other work, or a busy machine)", buckets=WRITE_BUCKETS, registry=r)
        self.snapshot: Snapshot | None = None
        r.register(_Gauges(self))

    def write_phase(self, phase: str, seconds: float) -> None:
        """The exchange writer's timing hook (``ExchangeWriter.timing``)."""
        self._write_phases[phase].observe(seconds)

    def observe(self, events: Sequence[Event]) -> None:
        """The bus observer: count what a committed transaction did."""
        exchanges: dict[tuple[str, str], int] = {}
        for event in events:
            data = event.data
            kind = data.get("type")
            if kind == "exchange":
                exchange = data.get("exchange") or {}
                key = (str(exchange.get("channel")), str(exchange.get("direction")))
                exchanges[key] = exchanges.get(key, 0) + 1
            elif kind == "mail.delivery":
                self.mail.labels(str(data.get("state"))).inc(int(data.get("count", 1)))
            elif kind == "commitment.breached":
                self.breaches.labels(str(data.get("channel"))).inc()
            elif kind in ("booking.created", "booking.rescheduled", "booking.cancelled"):
                self.bookings.labels(kind.partition(".")[2]).inc()
            elif kind == "webhook.delivery":
                self.webhooks.labels(str(data.get("outcome"))).inc()
        for key, count in exchanges.items():  # a batch of chat messages: one count per label pair
            child = self._exchange_counts.get(key)
            if child is None:
                child = self._exchange_counts[key] = self.exchanges.labels(*key)
            child.inc(count)


class _Gauges:
    """A collector that writes the latest ``Snapshot`` as gauges."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # names vary with the snapshot (mailboxes, task names)

    def collect(self) -> Iterator[Metric]:
        snap = self._metrics.snapshot
        if snap is None:
            return
        sockets = GaugeMetricFamily("ecoach_open_sockets", "Open websockets in this process", labels=["kind"])
        for kind, count in sorted(snap.sockets.items()):
            sockets.add_metric([kind], count)
        yield sockets
        readers = GaugeMetricFamily("ecoach_mail_reader_state", "IMAP mailbox readers of this process: 1 for "
                                    "the state each is in", labels=["mailbox", "state"])
        for mailbox, state in sorted(snap.readers.items()):
            for option in READER_STATES:
                readers.add_metric([mailbox, option], 1 if option == state else 0)
        yield readers
        if snap.listener is not None:
            yield from _listener(snap.listener)
        yield from _tasks(snap)
        yield from _outbox(snap)
        yield from _webhooks(snap.figures)


def _age(now: datetime, moment: datetime | None) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0


def _listener(listener: dict[str, int]) -> Iterator[Metric]:
    yield GaugeMetricFamily("ecoach_event_listener_connected", "1 while this process receives other "
                            "processes' events (PostgreSQL LISTEN)", value=listener["connected"])
    yield CounterMetricFamily("ecoach_event_listener_connects", "LISTEN connections made", value=listener["connects"])
    yield CounterMetricFamily("ecoach_event_resyncs", "Times the listener came back and every open page resynced",
                              value=max(0, listener["connects"] - 1))
    yield CounterMetricFamily("ecoach_events_received", "Events from other processes delivered here",
                              value=listener["received"])


def _tasks(snap: Snapshot) -> Iterator[Metric]:
    figures = snap.figures
    yield GaugeMetricFamily("ecoach_task_lag_seconds", "Age of the oldest due task nobody is running "
                            "(0: none waiting)", value=_age(snap.now, figures.oldest_due))
    by_name = GaugeMetricFamily("ecoach_task_lag_by_name_seconds", "Age of the oldest due task, by task name",
                                labels=["task"])
    for name, oldest in sorted(figures.oldest_due_by_name.items()):
        by_name.add_metric([name], _age(snap.now, oldest))
    yield by_name
    parked = GaugeMetricFamily("ecoach_tasks_parked", "Tasks that failed too often and wait for an admin "
                               "(ecoach tasks list)", labels=["task"])
    for name, count in sorted(figures.parked.items()):
        parked.add_metric([name], count)
    yield parked


def _outbox(snap: Snapshot) -> Iterator[Metric]:
    figures = snap.figures
    waiting = GaugeMetricFamily("ecoach_outbox_mails", "Mails waiting in the outbox", labels=["state"])
    for state in ("queued", "retrying"):
        waiting.add_metric([state], figures.outbox.get(state, 0))
    yield waiting
    yield GaugeMetricFamily("ecoach_outbox_oldest_due_seconds", "How long the longest-due waiting mail is due",
                            value=_age(snap.now, figures.outbox_oldest_due))


def _webhooks(figures: DatabaseFigures) -> Iterator[Metric]:
    waiting = GaugeMetricFamily("ecoach_webhook_deliveries_open", "Webhook deliveries waiting to be sent "
                                "(pending) or parked after failing (failed)", labels=["status"])
    for status in ("pending", "failed"):
        waiting.add_metric([status], figures.webhook_deliveries.get(status, 0))
    yield waiting
    yield GaugeMetricFamily("ecoach_webhook_endpoints_turned_off", "Webhook endpoints turned off after failing",
                            value=figures.webhooks_turned_off)
