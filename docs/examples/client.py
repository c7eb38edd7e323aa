#!/usr/bin/env python3
"""A launcher's client of `activator serve`, with Python's standard library only.

It activates a license (with the data gateway address and the access key
pair, in one atomic step), checks a package, and checks in a collector.

    ACTIVATOR_URL=http://127.0.0.1:8737 \
    ACTIVATOR_ADMIN_TOKEN=lst1_... ACTIVATOR_COLLECTOR_TOKEN=lst1_... \
    ACTIVATOR_SECRET_KEY_FILE=sk.txt \
    python3 client.py LICENSE_FILE PACKAGE GATEWAY ACCESS_KEY_ID

Tokens and the secret key come from the environment (or a file), never from
the command line, where other users of the machine could read them.
Exit status: 0 when every step worked, 1 with the service's error otherwise.
"""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


class ServiceError(Exception):
    """An error of the service: {"format": 1, "error": {class, status, case, message, hint, fields}}."""

    def __init__(self, http_status, error):
        super().__init__(f"{error['message']} (hint: {error['hint']})")
        self.http_status = http_status
        self.error = error


def call(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        raise ServiceError(e.code, json.load(e)["error"]) from None


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    license_file, package, gateway, access_key_id = argv[1:]
    base = os.environ.get("ACTIVATOR_URL", "http://127.0.0.1:8737").rstrip("/")
    admin = os.environ["ACTIVATOR_ADMIN_TOKEN"]
    collector = os.environ["ACTIVATOR_COLLECTOR_TOKEN"]
    with open(os.environ["ACTIVATOR_SECRET_KEY_FILE"]) as f:
        secret_key = f.read().strip()
    with open(license_file) as f:
        license_text = f.read()
    try:
        activated = call(base, admin, "POST", "/v1/activate", {
            "license": license_text,
            "gateway": gateway,
            "access_key_id": access_key_id,
            "secret_key": secret_key,
        })
        status = activated["status"]
        print(f"activated {activated['license']['id']}: {status['edition']} ({status['phase']}), "
              f"expires {status['license']['expires_at']}")
        check = call(base, admin, "GET", "/v1/check?" + urllib.parse.urlencode({"package": package}))
        print(f"{package}: entitled at tier {check['tier']} until {check['until']}")
        checkin = call(base, collector, "POST", "/v1/collectors/" + urllib.parse.quote("dk-python-1", safe="") + "/checkin")
        print(f"collector {checkin['collector']} checked in for billing day {checkin['day']}")
    except ServiceError as e:
        print(f"error ({e.http_status}, {e.error['class']}): {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
