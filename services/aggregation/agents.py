"""The aggregation stream: decode accepted verdicts in batches and fold them into the totals."""
from __future__ import annotations

import logging

import faust
from pydantic import ValidationError

from services.aggregation.projection import Totals
from shared import topics
from shared.events import ReportValidated, decode
from shared.streaming import raw_topic

log = logging.getLogger(__name__)


def register(app: faust.App, totals: Totals, batch: int = 2000) -> None:
    source = raw_topic(app, topics.REPORTS_VALIDATED)

    @app.agent(source, name="fold-verdicts")
    async def fold_verdicts(stream):
        async for values in stream.take(batch, within=0.005):
            verdicts = []
            for value in values:
                try:
                    verdicts.append(decode(ReportValidated, value))
                except (ValidationError, ValueError) as exc:
                    # Validation is the only writer of this topic; a bad record here is a bug, logged loudly.
                    log.error("undecodable verdict skipped: %s", exc)
            await totals.apply(verdicts)
