"""Process-wide Powertools Logger, Tracer and Metrics (one set per Lambda)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
