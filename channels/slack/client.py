"""The Slack Web API client deploybot uses (slack_sdk's ``AsyncWebClient``).

``SLACK_API_URL`` points it elsewhere (tests, proxies); slack_sdk needs the trailing ``/``.
HTTP 429 is retried after the ``Retry-After`` Slack sends (slack_sdk does not by default);
every other failure is raised to the caller (the outbox retries deliveries itself).
"""

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["DEFAULT_API_URL", "web_client"]

DEFAULT_API_URL = "https://slack.com/api/"


def web_client(token: str | None, *, api_url: str | None = None) -> AsyncWebClient:
    base_url = api_url or DEFAULT_API_URL
    if not base_url.endswith("/"):
        base_url += "/"
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=10,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )
