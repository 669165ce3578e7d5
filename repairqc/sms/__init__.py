"""Outgoing text messages (HB §6.2.2 several channels): an HTTP gateway, or the log in development.

Providers differ (Twilio, Alibaba Cloud SMS, a carrier's relay), so the product speaks one small
JSON protocol to a gateway of the operator's choice: ``POST SMS_GATEWAY_URL`` with
``{"to": ..., "from": ..., "body": ...}`` and ``Authorization: Bearer SMS_GATEWAY_TOKEN``; any 2xx
is success, anything else raises (the job is retried). A provider-specific adapter is a
function ``send(to, body, config)`` named by ``SMS_BACKEND=package.module:function``, not a
change to the callers. The default, ``console``, is the logging provider: texts go to the log.
"""

from __future__ import annotations

import importlib
import json
import logging
import urllib.error
import urllib.request

from flask import current_app

logger = logging.getLogger(__name__)


class SmsFailed(RuntimeError):
    """The gateway refused or could not be reached."""


def sms_enabled() -> bool:
    return current_app.config["SMS_BACKEND"] != "none"


def send_sms(to: str, body: str) -> None:
    config = current_app.config
    if config["SMS_BACKEND"] == "none":
        raise SmsFailed("SMS_BACKEND is none: no text messages are sent")
    if config["SMS_BACKEND"] == "console":
        logger.warning("sms (console backend, not sent) to %s:\n%s", to, body)
        return
    if ":" in config["SMS_BACKEND"]:
        module, _, name = config["SMS_BACKEND"].partition(":")
        getattr(importlib.import_module(module), name)(to, body, config)
        return
    payload = json.dumps({"to": to, "from": config["SMS_SENDER"], "body": body}).encode()
    request = urllib.request.Request(
        config["SMS_GATEWAY_URL"],
        data=payload,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {config['SMS_GATEWAY_TOKEN']}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            if not 200 <= response.status < 300:
                raise SmsFailed(f"SMS gateway answered {response.status}")
    except urllib.error.URLError as exc:
        raise SmsFailed(f"SMS gateway failed: {exc}") from exc
