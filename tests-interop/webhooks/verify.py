"""Verifies a webhook delivery captured from the notify crate with the
reference Standard Webhooks library; exits non-zero if it does not verify,
or if a tampered body or a wrong secret would verify too."""
import json
import sys

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        capture = json.load(f)
    secret, headers, body = capture["secret"], capture["headers"], capture["body"]
    payload = Webhook(secret).verify(body, headers)
    if payload.get("id") is None or payload.get("kind") is None:
        print(f"verified, but the payload is not a notification: {payload!r}", file=sys.stderr)
        return 1
    refused = 0
    for label, wh, data in [
        ("tampered body", Webhook(secret), body.replace("CVE", "CVX", 1)),
        ("wrong secret", Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), body),
    ]:
        try:
            wh.verify(data, headers)
            print(f"{label} verified: the check is vacuous", file=sys.stderr)
        except WebhookVerificationError:
            refused += 1
    if refused != 2:
        return 1
    print(
        f"standardwebhooks verified {headers['webhook-id']} "
        f"({payload['kind']} {payload['id']}, {len(body.encode())} bytes); "
        "tampered body and wrong secret refused"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
