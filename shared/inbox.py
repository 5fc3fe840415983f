"""The inbox: every service's Kafka input, one way.

A consumer-group batch loop hands the service's handler a batch of decoded events inside a
PostgreSQL transaction, and writes a tracking record (group, topic, partition, broker epoch, next
offset) in that same transaction; what the handler returns goes to `after_commit` (e.g. publish).
Kafka offsets are committed after that too, but the tracking record is what a new owner of a
partition resumes from, so a crash between the two repeats nothing.

One retry policy: an outage (database or broker away) retries the same batch for ever, with
backoff. Anything else is a property of the records: a failing batch is split in halves until
the failing record stands alone, which is tried `max_attempts` times and then dead-lettered (kept in
PostgreSQL, published to the service's dead-letter topic, counted); the rest flows on.

Restart detection (a memory-only broker forgets records and offsets): a new broker epoch
(shared.epoch) or a partition's end offset falling below one seen before rewinds the partitions to
their new start; a group rejoin after the restart finds no committed offsets and starts there too.
Handlers are idempotent, so reading again is harmless; reading past a record not yet handled is not:
the inbox knows where handling resumes in every partition and sends back a consumer found past it.

Readiness follows real progress: a consumer that holds partitions but handles nothing while records
wait (aiokafka's consumers have been seen to stop fetching without an error) is unready after
`stall_after_s`, so the supervisor or Kubernetes restarts its service.

At start, before consuming, `unsent` publishes what a killed predecessor committed and never
published (its records are tracked as handled and will not come again)."""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, NamedTuple, Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter, Gauge

from shared import db, topics
from shared.epoch import BrokerEpoch
from shared.events import DeadLettered, decode, encode
from shared.kafka import LogRestarts, close_client, new_consumer, send_many
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

RECORDS = Counter("qm_inbox_records", "Records read by a consumer, by outcome", ["consumer", "topic", "outcome"])
DEAD_LETTERS = Counter("qm_inbox_dead_letters", "Records dead-lettered (undecodable, or failing after retries)", ["consumer", "topic"])
RETRIES = Counter("qm_inbox_retries", "Handler attempts that failed, by cause (outage or record)", ["consumer", "cause"])
REWINDS = Counter("qm_inbox_rewinds", "Partitions read again from their start after a broker restart", ["consumer", "reason"])
LAG = Gauge("qm_inbox_lag_records", "Records on the broker not yet handled (Tansu's end offset makes it a lower bound)", ["consumer", "topic", "partition"])
PROGRESS = Gauge("qm_inbox_last_progress_timestamp_seconds", "When a batch was last handled (Unix time)", ["consumer"])

# An outage, not a bad record: retry the same batch until it passes.
OUTAGES: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError, asyncpg.SerializationError, asyncpg.DeadlockDetectedError,
    OSError, KafkaError, asyncio.TimeoutError,
)


MIGRATIONS = Path(__file__).parent / "migrations" / "inbox"


async def migrate(pool: asyncpg.Pool) -> None:
    """The inbox's tables, shared by every service (each applies them at start-up)."""
    await db.migrate(pool, "inbox", MIGRATIONS)


class Delivery(NamedTuple):
    """One record as read, with its decoded event (a tuple: made for every record, four times per
    report across the services)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    event: Any


Handler = Callable[[asyncpg.Connection, list[Delivery]], Awaitable[Any]]


class Inbox:
    """Reads `specs` in consumer group `group` and hands batches to `handle(conn, deliveries)`."""

    def __init__(
        self,
        group: str,
        settings: CommonSettings,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        epoch: BrokerEpoch,
        specs: Sequence[topics.TopicSpec],
        handle: Handler,
        *,
        dead_letters: topics.TopicSpec,
        after_commit: Callable[[Any], Awaitable[None]] | None = None,
        unsent: Callable[[], Awaitable[Any]] | None = None,
        decoders: dict[str, Callable[[bytes], Any]] | None = None,
        batch_size: int = 1000,
        max_attempts: int = 5,
        backoff_s: float = 0.1,
        backoff_max_s: float = 5.0,
        check_every_s: float = 1.0,
        consumer_options: dict | None = None,
        concurrency: int = 1,
        stall_after_s: float = 30.0,
    ):
        self.group, self.settings, self.pool, self.producer, self.epoch = group, settings, pool, producer, epoch
        self.specs, self.handle, self.after_commit, self.dead_letters = tuple(specs), handle, after_commit, dead_letters
        self.unsent = unsent
        self.decoders = {s.name: (lambda raw, t=s.value_type: decode(t, raw)) for s in self.specs}
        self.decoders.update(decoders or {})
        self.batch_size, self.max_attempts = batch_size, max_attempts
        # Partitions handled side by side, each group in a transaction of its own: while one waits for
        # PostgreSQL, the other runs. Only for handlers whose partitions share no rows.
        self.concurrency = concurrency
        self.backoff_s, self.backoff_max_s, self.check_every_s = backoff_s, backoff_max_s, check_every_s
        # A consumer that stops fetching while records wait (a known aiokafka/faust failure) reports
        # itself unready after this long, so the supervisor or Kubernetes restarts it.
        self.stall_after_s = stall_after_s
        self._waiting_since: float | None = None  # since when records have been seen waiting
        # A short session: Tansu's first group join takes about half of it.
        self.consumer_options = {"session_timeout_ms": 3000, **(consumer_options or {})}
        self.consumer: AIOKafkaConsumer | None = None
        self.handled = 0
        self.last_progress = time.monotonic()
        self.caught_up = asyncio.Event()  # set once everything assigned at start has been read
        self._backlog: dict[TopicPartition, int] = {}  # a partition's end when first seen: the start's backlog
        self._epoch_seen: str | None = None  # the epoch whose logs the assigned partitions are positioned in
        self._letters_epoch: str | None = None  # the epoch the dead letters were last published to
        self._restarts = LogRestarts()
        self._outage = False
        # Held while a batch is handled: a rebalance reads tracking records only once it is stored.
        self._batch_lock = asyncio.Lock()
        self._assignments = 0  # counts rebalances: a batch fetched before one is read again, not handled
        # (topic, partition) -> (epoch, next offset to handle): what is handled, or where reading resumes.
        self._positions: dict[tuple[str, int], tuple[str | None, int]] = {}
        self._gaps: dict[tuple[str, int], int] = {}  # partitions sent back once to a position the log no longer holds
        self._resume_failed = False
        self._to_commit: dict[TopicPartition, int] = {}  # read since the last commit, in _commit_epoch's logs
        self._commit_epoch: str | None = None

    # -- the loop ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume for ever; a consumer that fails (broker gone) is replaced.

        First, what a predecessor committed but died before publishing: its records are tracked as
        handled and will not come again, so `after_commit` will never run for them."""
        await self._until_done(self.publish_dead_letters)
        if self.unsent is not None:
            await self._until_done(self.unsent)
        while True:
            consumer = None
            try:
                self._adopt(await self._read_epoch())
                self._letters_epoch = self._letters_epoch or self._epoch_seen
                consumer = new_consumer(
                    self.settings, group_id=self.group, max_poll_records=self.batch_size, **self.consumer_options
                )
                consumer.subscribe([s.name for s in self.specs], listener=_Resume(self))
                self.consumer, self._waiting_since = consumer, None
                await consumer.start()
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s inbox: consumer failed (%r); starting a new one", self.group, exc)
                await asyncio.sleep(1.0)
            finally:
                self.consumer = None
                if consumer is not None:
                    await close_client(consumer)

    async def _read_epoch(self) -> str:
        while self.epoch.current is None:
            try:
                await self.epoch.refresh()
            except (KafkaError, OSError, asyncio.TimeoutError) as exc:
                log.info("%s inbox: broker not reachable yet (%r)", self.group, exc)
                await self.epoch.close()
                await asyncio.sleep(0.5)
        return self.epoch.current

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        checked = 0.0
        while True:
            if self._resume_failed:
                self._resume_failed = False
                raise RuntimeError("positions of newly assigned partitions unknown")
            epoch, assignments = self._epoch_seen, self._assignments
            fetched = await self._fetch(consumer)
            records = [r for tp, batch in fetched.items() for r in self._unhandled(consumer, tp, batch, epoch)]
            if records:
                async with self._batch_lock:
                    if assignments != self._assignments:
                        # A rebalance or rewind moved the positions while this fetch was under way, and
                        # the fetch may have read past them: read again from where handling resumes.
                        self._send_back(consumer, fetched)
                        continue
                    await self._process_groups(records, epoch)
                # Only what this batch read: committing every assigned position could carry a position
                # of a forgotten log onto a restarted broker.
                if epoch != self._commit_epoch:
                    self._to_commit, self._commit_epoch = {}, epoch
                self._to_commit.update({TopicPartition(tp.topic, tp.partition): batch[-1].offset + 1
                                        for tp, batch in fetched.items() if batch})
            if time.monotonic() - checked >= self.check_every_s:
                checked = time.monotonic()
                await self._commit_read()
                await self._check(consumer)

    async def _fetch(self, consumer: AIOKafkaConsumer) -> dict:
        """Up to `batch_size` records; with groups side by side, in a share for each partition. One
        getmany fills its batch from the partitions in the order their data came, so in a backlog one
        partition often took the whole batch and the other groups had nothing to do."""
        if self.concurrency == 1:
            return await consumer.getmany(timeout_ms=500, max_records=self.batch_size)
        share = -(-self.batch_size // max(1, len(consumer.assignment())))  # the batch stays the memory bound
        fetched = await consumer.getmany(timeout_ms=500, max_records=share)
        if fetched:
            for tp in consumer.assignment() - fetched.keys():
                fetched.update(await consumer.getmany(tp, timeout_ms=0, max_records=share))
        return fetched

    async def _check(self, consumer: AIOKafkaConsumer) -> None:
        """Restart detection, lag, and whether the backlog present at start has been read."""
        assigned = list(consumer.assignment())
        current = self.epoch.current
        if current != self._epoch_seen:
            self._adopt(current)
            if assigned:
                REWINDS.labels(self.group, "epoch").inc(len(assigned))
                log.warning("%s inbox: new broker epoch; reading %d partitions from their start", self.group, len(assigned))
                await self._rewind(consumer, assigned)
        if current != self._letters_epoch:
            await self.replay_dead_letters()
            self._letters_epoch = current
            return
        if not assigned:
            return
        ends = await consumer.end_offsets(assigned)
        restarted = self._restarts.restarted(ends)
        if restarted:
            REWINDS.labels(self.group, "end_offset").inc(len(restarted))
            log.warning("%s inbox: log restarted under %s; reading it from its start", self.group,
                        ", ".join(f"{t.topic}/{t.partition}" for t in restarted))
            await self._rewind(consumer, restarted)
        behind = waiting = False
        for tp, end in ends.items():
            position = await consumer.position(tp)
            known = self._positions.get((tp.topic, tp.partition))
            if known is not None and known[0] == self._epoch_seen and position > known[1]:
                # Nothing fetched is unhandled between batches: a position past the known one skipped records.
                log.warning("%s inbox: %s/%s at %d, past unhandled records from %d; reading those",
                            self.group, tp.topic, tp.partition, position, known[1])
                REWINDS.labels(self.group, "gap").inc()
                consumer.seek(tp, known[1])
                position = known[1]
            LAG.labels(self.group, tp.topic, tp.partition).set(max(0, end - position))
            # Tansu's end is the last batch's base offset: past the handled position, records surely wait.
            waiting |= known is not None and known[0] == self._epoch_seen and end > known[1]
            # Against the end first seen, not the moving one: under steady load a consumer is always
            # a little behind the newest record, yet it has read what was waiting when it started.
            behind |= position < self._backlog.setdefault(tp, end)
        if not behind:
            self.caught_up.set()
        if not waiting:
            self._waiting_since = None
        elif self._waiting_since is None:
            self._waiting_since = time.monotonic()

    def _adopt(self, epoch: str | None) -> None:
        """The assigned partitions are now positioned in `epoch`'s logs."""
        if epoch != self._epoch_seen:
            self._epoch_seen = epoch
            self._restarts = LogRestarts()  # the new logs' ends are the new baselines

    def _unhandled(self, consumer: AIOKafkaConsumer, tp: TopicPartition, batch: list, epoch: str | None) -> list:
        """The records of `batch` from the known position on. A consumer sent back to records it
        handled (aiokafka may apply the group's committed offset after a listener's seek) skips them
        and is sent forward again; one that jumped past unhandled records is sent back to them."""
        key = (tp.topic, tp.partition)
        known = self._positions.get(key)
        if not batch or known is None or known[0] != epoch or batch[0].offset == known[1]:
            self._gaps.pop(key, None)
            return batch
        if batch[0].offset > known[1]:
            if self._gaps.get(key) == known[1]:
                # Sent back once already and the log starts later (compacted or expired): nothing lies between.
                self._gaps.pop(key)
                return batch
            log.warning("%s inbox: %s/%s read from %d, past unhandled records from %d; reading those",
                        self.group, tp.topic, tp.partition, batch[0].offset, known[1])
            REWINDS.labels(self.group, "gap").inc()
            self._gaps[key] = known[1]
            consumer.seek(tp, known[1])
            return []
        fresh = [r for r in batch if r.offset >= known[1]]
        if not fresh:
            consumer.seek(tp, known[1])
        return fresh

    def _send_back(self, consumer: AIOKafkaConsumer, fetched: dict) -> None:
        """Seek the partitions of a dropped fetch back to their known positions."""
        assigned = consumer.assignment()
        for tp in fetched:
            known = self._positions.get((tp.topic, tp.partition))
            if known is not None and tp in assigned:
                consumer.seek(tp, known[1])

    async def _rewind(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        """Read `partitions` from their start, and say so to the group too: a rebalance before the
        next commit would otherwise resume from a position committed before the rewind."""
        starts = await consumer.beginning_offsets(partitions)
        for tp, start in starts.items():
            consumer.seek(tp, start)
            self._positions[(tp.topic, tp.partition)] = (self._epoch_seen, start)
        self._assignments += 1  # what was fetched before the rewind is read again, not handled
        for tp in starts:
            self._to_commit.pop(tp, None)
        await self._commit(starts)

    async def _commit_read(self) -> None:
        """Commit to the group what the batches since the last check read, if read in the broker's
        current epoch. Once per check, not per batch: the tracking records are what a new owner
        resumes from (_Resume), so Kafka's offsets only show the group's progress to its tools, and a
        commit per batch was a broker round trip per batch."""
        offsets, self._to_commit = self._to_commit, {}
        if self._commit_epoch == self.epoch.current:
            await self._commit(offsets)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not offsets or self.consumer is None:
            return
        try:
            await self.consumer.commit(offsets)
        except KafkaError as exc:  # a rebalance or a restarting broker: the tracking record holds
            log.info("%s inbox: offset commit failed (%r)", self.group, exc)

    # -- one batch --------------------------------------------------------------------------------

    async def _process_groups(self, records: list, epoch: str | None) -> None:
        if self.concurrency == 1:
            await self.process(records, epoch)
            return
        groups: dict[int, list] = {}
        for r in records:
            groups.setdefault(r.partition % self.concurrency, []).append(r)
        # A task group, not gather: a group that fails cancels the others before the failure goes on
        # to replace the consumer, so none is left handling records unsupervised.
        async with asyncio.TaskGroup() as handling:
            for group in groups.values():
                handling.create_task(self.process(group, epoch))

    async def process(self, records: list, epoch: str | None) -> None:
        """Decode, hand to the handler (isolating what fails), track; then after_commit."""
        good: list[Delivery] = []
        for record in records:
            try:
                event = self.decoders[record.topic](record.value or b"")
            except Exception as exc:  # bad bytes are the record's fault: no retry can help
                await self._dead_letter(record, f"undecodable {record.topic}: {exc}", epoch)
                continue
            good.append(Delivery(record.topic, record.partition, record.offset, record.key, record.value or b"", event))
        if good:
            await self._isolating(good, epoch)
        for r in records:  # every record is now handled or dead-lettered, and tracked
            key = (r.topic, r.partition)
            if self._positions.get(key, (None, -1))[0] != epoch or self._positions[key][1] <= r.offset:
                self._positions[key] = (epoch, r.offset + 1)
        self.handled += len(records)
        self.last_progress = time.monotonic()
        PROGRESS.labels(self.group).set(time.time())

    async def _isolating(self, batch: list[Delivery], epoch: str | None) -> None:
        attempts = 0
        while True:
            try:
                result = await self._until_outage_passes(lambda: self._transaction(batch, epoch))
            except Exception as exc:
                RETRIES.labels(self.group, "record").inc()
                if len(batch) > 1:
                    middle = len(batch) // 2
                    await self._isolating(batch[:middle], epoch)
                    await self._isolating(batch[middle:], epoch)
                    return
                attempts += 1
                if attempts >= self.max_attempts:
                    d = batch[0]
                    log.error("%s inbox: %s/%s@%s failed %d times; dead-lettered: %r", self.group, d.topic,
                              d.partition, d.offset, attempts, exc)
                    await self._dead_letter(d, f"handler failed {attempts} times: {exc!r}", epoch)
                    return
                await asyncio.sleep(min(self.backoff_max_s, self.backoff_s * 2 ** (attempts - 1)))
                continue
            for topic, handled in collections.Counter(d.topic for d in batch).items():
                RECORDS.labels(self.group, topic, "handled").inc(handled)
            if self.after_commit is not None:
                await self._until_done(lambda: self.after_commit(result))
            return

    async def _transaction(self, batch: list[Delivery], epoch: str | None):
        async with self.pool.acquire() as conn, conn.transaction():
            result = await self.handle(conn, batch)
            await _track(conn, self.group, epoch, batch)
        return result

    async def _until_outage_passes(self, step):
        """Run `step`; while it fails with an outage, wait and run it again. Other errors propagate."""
        pause = self.backoff_s
        while True:
            try:
                result = await step()
                if self._outage:
                    self._outage = False
                    log.info("%s inbox: outage over", self.group)
                return result
            except OUTAGES as exc:
                RETRIES.labels(self.group, "outage").inc()
                if not self._outage:
                    log.warning("%s inbox: outage (%r); retrying the batch", self.group, exc)
                self._outage = True
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.backoff_max_s)

    async def _until_done(self, step) -> None:
        """Run `step` until it passes, whatever it raises (a step that must not be skipped)."""
        pause = self.backoff_s
        while True:
            try:
                await self._until_outage_passes(step)
                return
            except Exception:
                log.exception("%s inbox: step failed; retrying", self.group)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.backoff_max_s)

    # -- dead letters -----------------------------------------------------------------------------

    async def _dead_letter(self, record, reason: str, epoch: str | None) -> None:
        letter = DeadLettered(
            source_topic=record.topic, partition=record.partition, offset=record.offset, reason=reason[:2000],
            raw=(record.value or b"").decode("utf-8", "replace")[:100_000], dead_at=time.time(),
        )

        async def store() -> None:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    """INSERT INTO inbox_dead_letters (event_id, consumer_group, source_topic, source_partition,
                           source_offset, epoch, event)
                       VALUES ($1, $2, $3, $4, $5, $6, $7)
                       ON CONFLICT (consumer_group, source_topic, source_partition, source_offset, epoch) DO NOTHING""",
                    letter.event_id, self.group, record.topic, record.partition, record.offset, epoch or "", encode(letter),
                )
                await _track(conn, self.group, epoch, [record])

        await self._until_done(store)
        DEAD_LETTERS.labels(self.group, record.topic).inc()
        RECORDS.labels(self.group, record.topic, "dead_lettered").inc()
        await self._until_done(self.publish_dead_letters)

    async def publish_dead_letters(self, everything: bool = False) -> int:
        """Publish stored dead letters not yet acknowledged (all of them after a broker reset)."""
        rows = await self.pool.fetch(
            "SELECT event_id, source_topic, event FROM inbox_dead_letters WHERE consumer_group = $1 AND ($2 OR NOT emitted) ORDER BY seq",
            self.group, everything,
        )
        if not rows:
            return 0
        await send_many(self.producer, self.dead_letters.name, [(r["source_topic"].encode(), r["event"]) for r in rows])
        await self.pool.execute(
            "UPDATE inbox_dead_letters SET emitted = true WHERE event_id = ANY($1::text[])", [r["event_id"] for r in rows]
        )
        return len(rows)

    async def replay_dead_letters(self) -> None:
        await self._until_done(lambda: self.publish_dead_letters(everything=True))

    # -- health -----------------------------------------------------------------------------------

    def ready(self) -> bool:
        """Holding partitions, not stuck on an outage, and handling the records that wait."""
        consumer = self.consumer
        return consumer is not None and bool(consumer.assignment()) and not self._outage and not self.stalled()

    def stalled(self) -> bool:
        """Records have waited for `stall_after_s` and none was handled (liveness from real progress)."""
        since = self._waiting_since
        return since is not None and time.monotonic() - max(since, self.last_progress) > self.stall_after_s


async def _track(conn: asyncpg.Connection, group: str, epoch: str | None, records) -> None:
    """The tracking record: the next offset per partition, for this broker epoch (call in the effect's
    transaction). A position of another epoch is replaced, never compared: offsets began again."""
    last: dict[tuple[str, int], int] = {}
    for r in records:
        last[(r.topic, r.partition)] = max(last.get((r.topic, r.partition), -1), r.offset + 1)
    keys = sorted(last)
    await conn.execute(
        """INSERT INTO inbox_tracking (consumer_group, topic, partition, epoch, next_offset)
           SELECT $1, t, p, $2, o FROM unnest($3::text[], $4::int[], $5::bigint[]) AS x(t, p, o)
           ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET
               next_offset = CASE WHEN inbox_tracking.epoch = EXCLUDED.epoch
                                  THEN GREATEST(inbox_tracking.next_offset, EXCLUDED.next_offset)
                                  ELSE EXCLUDED.next_offset END,
               epoch = EXCLUDED.epoch, updated_at = now()""",
        group, epoch or "", [k[0] for k in keys], [k[1] for k in keys], [last[k] for k in keys],
    )


class _Resume(ConsumerRebalanceListener):
    """A partition's new owner resumes from the tracking record of the broker's current epoch, or
    from the partition's start when there is none: never from Kafka's committed offset, which a
    restarted broker may have received from a consumer still holding a position of the old log.

    The epoch is read afresh (a rejoin is often the first sign of a restarted broker). A tracking
    record of the current epoch always holds a position of the current log: records are tracked
    under the epoch known before they were fetched, and the old broker is gone before a new epoch
    can be known."""

    def __init__(self, inbox: Inbox):
        self.inbox = inbox

    async def on_partitions_revoked(self, revoked) -> None:
        pass

    async def on_partitions_assigned(self, assigned) -> None:
        inbox, consumer = self.inbox, self.inbox.consumer
        if consumer is None or not assigned:
            return
        async with inbox._batch_lock:
            # Any rebalance moves positions: what was fetched before it is read again, not handled.
            inbox._assignments += 1
            try:
                async with asyncio.timeout(5):
                    await inbox.epoch.refresh()
                rows = await inbox.pool.fetch(
                    "SELECT topic, partition, next_offset FROM inbox_tracking WHERE consumer_group = $1 AND epoch = $2",
                    inbox.group, inbox.epoch.current or "",
                )
                tracked = {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}
                untracked = [tp for tp in assigned if tp not in tracked]
                # Explicit offsets: seek_to_beginning only requests a reset, which aiokafka may apply
                # after a fetch already handed out, and the same records would come twice.
                if untracked:
                    tracked.update(await consumer.beginning_offsets(untracked))
            except (asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError, OSError, asyncio.TimeoutError) as exc:
                # Kafka's committed offsets are no fallback (a restarted broker may hold positions of
                # the log it forgot): this consumer is replaced, and its successor joins again.
                log.warning("%s inbox: epoch or tracking records unreadable (%r); rejoining", inbox.group, exc)
                inbox._resume_failed = True
                return
            inbox._positions = {(tp.topic, tp.partition): (inbox.epoch.current, n) for tp, n in tracked.items()}
            for tp in assigned:
                consumer.seek(tp, tracked[tp])
            # Every partition is positioned in the current epoch's logs: no rewind for a change seen here.
            inbox._adopt(inbox.epoch.current)
