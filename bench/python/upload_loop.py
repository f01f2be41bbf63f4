#!/usr/bin/env python3
"""The upload loop integrators write today with `requests`: the benchmark's Python baseline.

It sends what the Rust clients send: drive discovery, the session, then every part to the URL the
previous answer gave. Usage:

    upload_loop.py ACCOUNT_URL TOKEN PATH

Prints {"seconds": ..., "uuid": ...} on success. Exits 3 when `requests` is not installed.
"""
import json
import os
import sys
import time

try:
    import requests
except ImportError:
    print("the Python package `requests` is not installed (pip install requests)", file=sys.stderr)
    sys.exit(3)


def upload(account_url, token, path):
    http = requests.Session()
    http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
    account = http.get(f"{account_url}/api/v4/account", params={"with": "drive_url"})
    account.raise_for_status()
    drive_url = account.json()["drive_url"]
    session = http.post(
        f"{drive_url}/v1.0/sessions",
        json={"file_name": os.path.basename(path), "file_size": os.path.getsize(path)},
    )
    session.raise_for_status()
    url = session.json()["upload_url"]
    part_size = session.json()["max_part_size"]
    with open(path, "rb") as source:
        while True:
            part = source.read(part_size)
            answer = http.post(url, data=part, headers={"Content-Type": "application/octet-stream"})
            answer.raise_for_status()
            body = answer.json()
            if "next_url" not in body:
                return body["uuid"]
            url = body["next_url"]


def main():
    account_url, token, path = sys.argv[1:4]
    started = time.perf_counter()
    uuid = upload(account_url, token, path)
    print(json.dumps({"seconds": time.perf_counter() - started, "uuid": uuid}))


if __name__ == "__main__":
    main()
