"""Dead-letter alerts: a record some consumer could not handle is news for the campaign office. Pure."""
from __future__ import annotations

from services.notification.deadlines import OFFICE, PlannedAlert
from shared.events import DeadLettered


def dead_letter_alert(service: str, letter: DeadLettered) -> PlannedAlert:
    """One alert per dead letter. Its reason and content stay in the dead-letter topic: an alert about
    no unit is visible to every unit, and the record may be another unit's report."""
    where = f"{letter.source_topic}/{letter.partition}@{letter.offset}"
    return PlannedAlert(
        f"dead_letter:{letter.event_id}", "dead_letter", None, None,
        f"{service} 服务无法处理一条记录（{where}），已转入死信队列，请办公室核查。",
        f"The {service} service could not handle a record ({where}); it was dead-lettered for the office to check.",
        {"service": service, "dead_letter_id": letter.event_id, "source_topic": letter.source_topic,
         "partition": letter.partition, "offset": letter.offset, "recipients": [OFFICE]},
    )
