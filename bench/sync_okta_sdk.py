"""Gather an org's directory inventory with the official Okta Python SDK.

The inventory is the one `idaudit sync` stores: users (listed plainly and with
`filter=status eq "DEPROVISIONED"`, as Okta hides DEPROVISIONED users from a
plain listing), groups with their members, owners and admin roles, apps with
their user and group assignments, group rules, the admin roles of each user
with one, and the factors of each user who can have them. Listings use the
largest page size each endpoint allows. Per-object reads run with at most
eight in flight, split by rate-limit bucket as idaudit does, so that the
groups, apps and users buckets are read at the same time. The SDK retries a
429 after `X-Rate-Limit-Reset` as it does by default, with more retries
allowed.

Usage: python sync_okta_sdk.py ORG_URL CLIENT_ID KEY_ID PRIVATE_KEY_FILE

Plain HTTP is allowed for loopback simulators through the SDK's
`testing.disableHttpsCheck` setting. The last line of output is JSON with the
object count, the API requests sent, the 429s among them and the seconds.
Tested with okta 3.4.6.
"""

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from okta import http_client
from okta.client import Client
from okta.pagination import PaginationHelper

SCOPES = [
    "okta.users.read",
    "okta.groups.read",
    "okta.apps.read",
    "okta.roles.read",
]
IN_FLIGHT = 8
MAX_PAGES = 100_000
NO_FACTORS = {"STAGED", "PROVISIONED", "DEPROVISIONED"}

counts = {"requests": 0, "rate_limited": 0}


def count_requests():
    """Wrap the SDK's HTTP client so that each API request and each 429 is counted."""
    send = http_client.HTTPClient.send_request

    async def counted(self, request):
        result = await send(self, request)
        if "/api/" in request["url"]:
            counts["requests"] += 1
            response = result[1] if isinstance(result, tuple) else None
            if response is not None and getattr(response, "status", None) == 429:
                counts["rate_limited"] += 1
        return result

    http_client.HTTPClient.send_request = counted


async def list_all(method, *args, **params):
    """Collect every item of a listing, following the `after` cursor of each `next` link."""
    items = []
    for _ in range(MAX_PAGES):
        page, response, error = await method(*args, **params)
        if error:
            raise RuntimeError(f"{method.__name__} failed: {error}")
        items.extend(page or [])
        cursor = PaginationHelper.extract_next_cursor(response.headers or {}) if response else None
        if cursor is None:
            return items
        params["after"] = cursor
    raise RuntimeError(f"{method.__name__} did not end within {MAX_PAGES} pages")


async def get_raw(client, path):
    """GET a path through the SDK's request executor, without model parsing."""
    executor = client.get_request_executor()
    request, error = await executor.create_request("GET", path, {}, {})
    if error:
        raise RuntimeError(f"GET {path} failed: {error}")
    response, body, error = await executor.execute(request)
    if error:
        raise RuntimeError(f"GET {path} failed: {error}")
    return json.loads(body) if isinstance(body, (str, bytes)) else (body or [])


async def list_admins(client):
    """List the ids of users with an admin role; this listing pages in its body."""
    ids = []
    after = None
    for _ in range(MAX_PAGES):
        params = {"limit": 1000}
        if after:
            params["after"] = after
        result, _, error = await client.list_users_with_role_assignments(**params)
        if error:
            raise RuntimeError(f"list_users_with_role_assignments failed: {error}")
        ids.extend(item.id for item in (result.value or []))
        links = getattr(result, "links", None)
        next_link = getattr(links, "next", None) if links else None
        href = getattr(next_link, "href", None) if next_link else None
        if not href or "after=" not in href:
            return ids
        after = href.split("after=", 1)[1].split("&", 1)[0]
    raise RuntimeError("list_users_with_role_assignments did not end")


async def each(keys, fetch):
    """Run `fetch` for each key with at most IN_FLIGHT at once."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(key):
        async with gate:
            return await fetch(key)

    return await asyncio.gather(*(one(key) for key in keys))


async def gather_inventory(client, org_url):
    users, deprovisioned, groups, apps, rules, admins = await asyncio.gather(
        list_all(client.list_users, limit=200),
        list_all(client.list_users, filter='status eq "DEPROVISIONED"', limit=200),
        list_all(client.list_groups, limit=200),
        list_all(client.list_applications, limit=200),
        list_all(client.list_group_rules, limit=200),
        list_admins(client),
    )
    users = users + deprovisioned
    with_factors = [user.id for user in users if str(user.status.value) not in NO_FACTORS]

    async def group_details(group_id):
        members = await list_all(client.list_group_users, group_id, limit=1000)
        owners = await list_all(client.list_group_owners, group_id, limit=1000)
        roles = await list_all(client.list_group_assigned_roles, group_id)
        return len(members) + len(owners) + len(roles)

    async def app_details(app_id):
        app_users = await list_all(client.list_application_users, app_id, limit=500)
        app_groups = await list_all(client.list_application_group_assignments, app_id, limit=200)
        return len(app_users) + len(app_groups)

    async def user_details():
        roles = await each(
            admins, lambda user_id: list_all(client.list_assigned_roles_for_user, user_id)
        )
        # Factors are read without the SDK's models: its SMS factor model
        # rejects phone numbers that are not in E.164 form.
        factors = await each(
            with_factors,
            lambda user_id: get_raw(client, f"{org_url}/api/v1/users/{user_id}/factors"),
        )
        return sum(map(len, roles)) + sum(map(len, factors))

    group_counts, app_counts, user_count = await asyncio.gather(
        each([group.id for group in groups], group_details),
        each([app.id for app in apps], app_details),
        user_details(),
    )
    return (
        len(users) + len(groups) + len(apps) + len(rules)
        + sum(group_counts) + sum(app_counts) + user_count
    )


async def main(org_url, client_id, key_id, key_file):
    config = {
        "orgUrl": org_url,
        "authorizationMode": "PrivateKey",
        "clientId": client_id,
        "kid": key_id,
        "scopes": SCOPES,
        "privateKey": Path(key_file).read_text(),
        "rateLimit": {"maxRetries": 20},
        "testing": {"disableHttpsCheck": True},
    }
    # Some SDK versions read the `testing` section only from the environment.
    os.environ["OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"] = "true"
    count_requests()
    started = time.monotonic()
    async with Client(config) as client:
        objects = await gather_inventory(client, org_url.rstrip("/"))
    seconds = time.monotonic() - started
    print(json.dumps({"objects": objects, "seconds": round(seconds, 1), **counts}))


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(*sys.argv[1:]))
