"""EventBridge schedule: expire overdue interventions, purge old ones."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from oversight.observability import logger, metrics, tracer
from oversight.sweep import run_sweep


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = run_sweep(context.get_remaining_time_in_millis)
    return report.__dict__
