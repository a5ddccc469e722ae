"""Every minute (EventBridge schedule), oversight.sweep: expire overdue
interventions (and cancel the jobs they gate), reclaim job runs that died,
queue again jobs whose message was lost, purge closed interventions and
finished jobs past retention."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from oversight.config import JobQueueSettings, JobRunSettings, TableSettings, require_settings
from oversight.observability import entry_point
from oversight.sweep import run_sweep

REQUIRED = require_settings("sweep", TableSettings, JobQueueSettings, JobRunSettings)


@entry_point
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = run_sweep(context.get_remaining_time_in_millis)
    return report.__dict__
