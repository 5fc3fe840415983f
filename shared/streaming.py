"""faust-streaming app factory with the settings these brokers need (see PLATFORM.md)."""
from __future__ import annotations

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from shared import topics
from shared.settings import CommonSettings

_fetch_max_wait_ms = 10
_original_create_worker_consumer = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer


def _create_worker_consumer(self, transport):
    # faust hard-codes fetch_max_wait_ms=1500; Tansu then holds each fetch ~0.75 s even with data
    # waiting, which would make every live hop slow. faust offers no setting, so we set it here.
    consumer = _original_create_worker_consumer(self, transport)
    consumer._fetch_max_wait_ms = _fetch_max_wait_ms
    return consumer


faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer


def new_faust_app(service: str, settings: CommonSettings, **overrides) -> faust.App:
    """A faust app for one service: its name is the consumer group; HTTP is served by FastAPI instead."""
    global _fetch_max_wait_ms
    _fetch_max_wait_ms = settings.fetch_max_wait_ms
    # faust creates its data folder without parents.
    (settings.state_dir / "faust").mkdir(parents=True, exist_ok=True)
    options = dict(
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        # Tansu: the first group join takes about half the session timeout.
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        web_enabled=False,
        store="memory://",
        datadir=str(settings.state_dir / "faust" / service),
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        producer_linger=0.002,
    )
    options.update(overrides)
    return faust.App(service, **options)


def raw_topic(app: faust.App, spec: topics.TopicSpec) -> faust.TopicT:
    """A faust topic of raw bytes: services decode with the contract models themselves, so a bad
    record becomes a dead letter with a reason instead of a crashed agent."""
    return app.topic(spec.name, key_serializer="raw", value_serializer="raw")


def is_ready(app: faust.App) -> bool:
    """Ready once the consumer holds partitions and no rebalance is in progress."""
    try:
        return bool(app.consumer.assignment()) and not app.rebalancing
    except Exception:
        return False
