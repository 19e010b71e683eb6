"""The in-process event hub: fan-out by topic, and a slow subscriber never blocks others."""

from __future__ import annotations

from ecoach.core import hub as hub_module
from ecoach.core.hub import Hub


async def test_events_reach_every_subscriber_of_the_topic() -> None:
    hub = Hub()
    a, b, other = hub.subscribe("coach:1"), hub.subscribe("coach:1", "engagement:2"), hub.subscribe("coach:9")
    assert hub.publish("coach:1", {"n": 1}) == 2
    assert a.queue.get_nowait() == {"n": 1} and b.queue.get_nowait() == {"n": 1}
    assert other.queue.empty()
    hub.unsubscribe(b)
    assert hub.publish("engagement:2", {"n": 2}) == 0


async def test_an_overflowing_subscriber_is_dropped_and_told(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(hub_module, "QUEUE_SIZE", 3)
    hub = Hub()
    slow, fast = hub.subscribe("t"), hub.subscribe("t")
    for n in range(3):
        hub.publish("t", {"n": n})
        fast.queue.get_nowait()
    hub.publish("t", {"n": 3})  # slow is full: dropped, gets the end marker
    assert slow.overflowed
    assert slow.queue.get_nowait() is None
    assert hub.subscriber_count("t") == 1
    assert fast.queue.get_nowait() == {"n": 3}


async def test_resync_ends_the_subscriptions_that_may_have_missed_events() -> None:
    hub = Hub()
    chat, inbox, other = hub.subscribe("engagement:2", "chatlink:2"), hub.subscribe("coach:1"), hub.subscribe("coach:9")
    hub.publish("coach:1", {"n": 1})
    assert hub.resync(["chatlink:2", "coach:1"]) == 2
    assert chat.queue.get_nowait() is None and inbox.queue.get_nowait() is None  # queued events make way
    assert hub.subscriber_count("engagement:2") == 0 and hub.subscriber_count("coach:9") == 1
    assert hub.resync() == 1 and other.queue.get_nowait() is None


async def test_listeners_hear_every_event_and_one_failing_stops_nothing() -> None:
    hub = Hub()
    heard: list[dict[str, int]] = []
    hub.listen("local:outbox", lambda event: 1 / 0)
    hub.listen("local:outbox", heard.append)
    sub = hub.subscribe("local:outbox")
    assert hub.publish("local:outbox", {"n": 1}) == 1
    assert heard == [{"n": 1}] and sub.queue.get_nowait() == {"n": 1}


async def test_a_subscription_does_not_get_the_events_its_own_connection_caused() -> None:
    hub = Hub()
    sender, other = hub.subscribe("engagement:2"), hub.subscribe("engagement:2")
    sender.origin = "conn-a"  # its ack carried the message already
    assert hub.publish("engagement:2", {"type": "exchange", "origin": "conn-a"}) == 1
    assert sender.queue.empty() and other.queue.get_nowait()["origin"] == "conn-a"
    assert hub.publish("engagement:2", {"type": "exchange", "origin": None}) == 2
    assert sender.queue.get_nowait() == {"type": "exchange", "origin": None}
