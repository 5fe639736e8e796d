"""The Segment-compatible HTTP ingest (see `app.create_app`)."""

from intercom_destination.ingest.app import create_app
from intercom_destination.ingest.auth import WriteKeys, exposure_problem
from intercom_destination.ingest.metrics import IngestMetrics, new_registry

__all__ = ["IngestMetrics", "WriteKeys", "create_app", "exposure_problem", "new_registry"]
