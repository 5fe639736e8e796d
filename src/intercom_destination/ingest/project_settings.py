"""The settings document Segment's CDN serves to clients, naming this service as their API.

analytics-swift, analytics-kotlin and analytics-react-native fetch
`https://{cdnHost}/projects/{writeKey}/settings` when they start, and the `apiHost` under
`integrations["Segment.io"]` replaces the one configured in the app; analytics.js loaded by
the snippet fetches it too. Pointing `cdnHost` here keeps them sending to this service.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def api_host(public_url: str | None, host: str, scheme: str) -> tuple[str, str]:
    """This service's API as clients configure it, host and path without a scheme
    (`events.example.com/v1`), and the scheme; from `public_url` when one is set, else from
    the request's Host."""
    if public_url:
        parts = urlsplit(public_url)
        return f"{parts.netloc}{parts.path.rstrip('/')}/v1", parts.scheme or "https"
    return f"{host}/v1", scheme


def settings_document(write_key: str, api_host: str, protocol: str) -> dict[str, Any]:
    enabled = {"__default": {"enabled": True, "integrations": {}}}
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": api_host,
                # analytics.js reads it; the mobile SDKs always use https.
                "protocol": protocol,
                "addBundledMetadata": True,
                "unbundledIntegrations": [],
                "maybeBundledConfigIds": {},
            }
        },
        "plan": {"track": enabled, "identify": enabled, "group": enabled},
        "edgeFunction": {},
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "analyticsNextEnabled": True,
        # No client telemetry (analytics.js's /v1/m): it would only be discarded here.
        "metrics": {"sampleRate": 0},
        "remotePlugins": [],
    }
