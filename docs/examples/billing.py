"""A billing system's payment webhook: create the license for a paid order.

The payment's id is the idempotency key, so a retried webhook gets the same
license back instead of a second one. Standard library only.

    ISSUER_API=http://127.0.0.1:8738 ISSUER_API_TOKEN=ist1_... python3 billing.py
"""
import json
import os
import urllib.error
import urllib.request

API = os.environ.get("ISSUER_API", "http://127.0.0.1:8738")
TOKEN = os.environ["ISSUER_API_TOKEN"]  # an `issue` token; never in the code


def create_license(payment_id, order):
    request = urllib.request.Request(
        f"{API}/v1/licenses",
        data=json.dumps(order).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Idempotency-Key": payment_id,
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as e:
        error = json.load(e)["error"]
        raise SystemExit(f"{e.code} {error['case']}: {error['message']} ({error['hint']})")


order = {
    "product": "data-platform",
    "account": "acct-20261202",
    "licensee": "Example Customer Ltd",
    "region": "cn-hangzhou",
    "edition": "intelligent_rnd",
    "engine": "maxcompute",
    "plan": "subscription",
    "packages": {"data_service": "api.s1.small"},
    "quotas": {"processing_units": 40},
    "months": 12,
}
made = create_license("pay-20261202-0001", order)
print(made["armored"])  # what the customer copies into the activation dialog
retried = create_license("pay-20261202-0001", order)
print("same license on retry:", retried["id"] == made["id"] and retried["replayed"])
