"""Check the simulator against the official Okta Python SDK.

Starts `idaudit sim` on a free loopback port with rate limits off. Lists users,
groups and apps through the SDK's `Client`, as an OAuth service app with a private
key and with `testing.testingDisableHttpsCheck` set for loopback HTTP. Compares the
counts with the sizes the simulator was started with. Users are listed twice, as Okta hides DEPROVISIONED
users from a plain listing: once plainly and once with
`filter=status eq "DEPROVISIONED"`; the two must add up to the requested size.

Usage: python okta_sdk_check.py PATH_TO_IDAUDIT
Exits with status 0 when every count matches, 1 otherwise.
"""

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from okta.client import Client
from okta.pagination import PaginationHelper

USERS = 260
GROUPS = 40
APPS = 60
START_TIMEOUT_SECONDS = 60
MAX_PAGES = 200
SCOPES = ["okta.users.read", "okta.groups.read", "okta.apps.read"]


def start_simulator(binary, out_dir):
    """Start `idaudit sim` and return the process, base URL, client id, key id and key file."""
    command = [
        binary, "sim", "--port", "0", "--rate-limits", "off", "--out", str(out_dir),
        "--users", str(USERS), "--groups", str(GROUPS), "--apps", str(APPS), "--days", "3",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    fields = {}
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and len(fields) < 4:
        line = process.stdout.readline()
        if not line:
            break
        for name, pattern in [
            ("url", r"listening on (http://127\.0\.0\.1:\d+)"),
            ("client_id", r"^\s*client id\s+(\S+)"),
            ("key_id", r"^\s*key id\s+(\S+)"),
            ("key_file", r"^\s*private key\s+(\S+)"),
        ]:
            match = re.search(pattern, line)
            if match:
                fields[name] = match.group(1)
    if len(fields) < 4:
        process.kill()
        raise RuntimeError(f"idaudit sim did not print its settings, got {fields}")
    return process, fields


async def list_all(list_method, **params):
    """Collect every item of a listing, following the `after` cursor of each `next` link."""
    items = []
    for _ in range(MAX_PAGES):
        page, response, error = await list_method(**params)
        if error:
            raise RuntimeError(f"SDK request failed: {error}")
        items.extend(page or [])
        cursor = PaginationHelper.extract_next_cursor(response.headers or {})
        if cursor is None:
            return items
        params["after"] = cursor
    raise RuntimeError(f"Listing did not end within {MAX_PAGES} pages")


async def count_objects(settings):
    config = {
        "orgUrl": settings["url"],
        "authorizationMode": "PrivateKey",
        "clientId": settings["client_id"],
        "kid": settings["key_id"],
        "scopes": SCOPES,
        "privateKey": Path(settings["key_file"]).read_text(),
    }
    # The SDK reads its `testing` section only from YAML files and environment
    # variables, not from the dictionary given to `Client`.
    os.environ["OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"] = "true"
    async with Client(config) as client:
        users = await list_all(client.list_users, limit=100)
        deprovisioned = await list_all(
            client.list_users, filter='status eq "DEPROVISIONED"', limit=100
        )
        groups = await list_all(client.list_groups, limit=15)
        apps = await list_all(client.list_applications, limit=5)
    return {
        "users": len(users) + len(deprovisioned),
        "groups": len(groups),
        "apps": len(apps),
    }


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as out_dir:
        process, settings = start_simulator(sys.argv[1], out_dir)
        try:
            counts = asyncio.run(asyncio.wait_for(count_objects(settings), 120))
        finally:
            process.terminate()
            process.wait(timeout=10)
    expected = {"users": USERS, "groups": GROUPS, "apps": APPS}
    failed = False
    for name, want in expected.items():
        status = "ok" if counts[name] == want else "MISMATCH"
        failed |= counts[name] != want
        print(f"{name}: listed {counts[name]}, expected {want}: {status}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
