#!/usr/bin/env python3
"""The reconciliation the way identity admins write it today: one user after another, on Microsoft's official
Python SDK (msgraph-sdk). It is authctl's benchmark baseline (benches/README, BENCHMARKS.md), not a product: the
harness (`cargo run --release --example bench`) creates its virtualenv under .bench/ and runs it; CI never does.

For each user of the manifests (plain YAML, read with PyYAML): GET the user by UPN, GET their phone methods, compare
the digits of each phone type with the manifest, then POST (create), PATCH (update) or DELETE. Exact mode deletes
undeclared types, merge mode leaves them; `absent` deletes in both. SMS sign-in is left out (the benchmark's
manifests don't manage it). The SDK's own retry handler (429/503/504, Retry-After, 3 attempts) is all the retrying
it does, as in the scripts it stands for.

    reference_script.py --base-url http://127.0.0.1:PORT/v1.0 [--plan-only] MANIFEST_DIR_OR_FILE...

The bearer token comes from the environment (GRAPH_TOKEN): a static-token credential hands it to the SDK, the way a
script run by a pipeline uses a token fetched before it. Prints one JSON line of counts and the wall time.
"""

import argparse
import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path

import yaml
from azure.core.credentials import AccessToken
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.authentication_phone_type import AuthenticationPhoneType
from msgraph.generated.models.phone_authentication_method import PhoneAuthenticationMethod

PHONE_TYPES = {
    "mobile": AuthenticationPhoneType.Mobile,
    "alternateMobile": AuthenticationPhoneType.AlternateMobile,
    "office": AuthenticationPhoneType.Office,
}
# Graph's fixed phone method ids, per type.
METHOD_IDS = {
    "mobile": "3179e48a-750b-4051-897c-87b9720928f7",
    "alternateMobile": "b6332ec1-7057-4abe-9331-3d72feddfe41",
    "office": "e37fc753-ff3b-4958-9484-eaa9425c82bc",
}


class StaticTokenCredential:
    """A TokenCredential (azure.core protocol) that returns a token obtained beforehand."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes, **kwargs) -> AccessToken:  # noqa: ARG002 - the protocol's signature
        return AccessToken(self._token, int(time.time()) + 3600)


def digits(number: str) -> str:
    """What admins compare: the digits (and the extension marker), nothing else."""
    return re.sub(r"[^0-9x]", "", number.lower())


def load_users(paths):
    """(user, mode, phones) for every user of every manifest document under `paths`."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml")))
        else:
            files.append(p)
    users = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for doc in yaml.safe_load_all(fh):
                if not doc:
                    continue
                spec = doc["spec"]
                for u in spec.get("users") or []:
                    users.append((u["user"], u.get("mode", spec["mode"]), u.get("phones") or {}))
    return users


def make_client(base_url: str, token: str) -> GraphServiceClient:
    auth = AzureIdentityAuthenticationProvider(StaticTokenCredential(token))
    adapter = GraphRequestAdapter(auth)
    # The SDK allows plain http only to localhost; the emulator listens on 127.0.0.1.
    adapter.base_url = base_url.rstrip("/")
    return GraphServiceClient(request_adapter=adapter)


async def reconcile(client, users, plan_only: bool) -> dict:
    counts = {"users": 0, "in_sync": 0, "create": 0, "update": 0, "delete": 0, "errors": 0}
    for upn, mode, phones in users:
        counts["users"] += 1
        try:
            user = await client.users.by_user_id(upn).get()
            methods_api = client.users.by_user_id(user.id).authentication.phone_methods
            current = await methods_api.get()
            have = {}
            for m in current.value or []:
                kind = m.phone_type.value if m.phone_type else None
                if kind in PHONE_TYPES:
                    have[kind] = m
            changed = False
            for kind, graph_type in PHONE_TYPES.items():
                want = phones.get(kind)
                if want is None and mode == "merge":
                    continue
                if want is None or want == "absent":
                    if kind in have:
                        changed = True
                        counts["delete"] += 1
                        if not plan_only:
                            await methods_api.by_phone_authentication_method_id(METHOD_IDS[kind]).delete()
                    continue
                body = PhoneAuthenticationMethod(phone_number=want, phone_type=graph_type)
                if kind not in have:
                    changed = True
                    counts["create"] += 1
                    if not plan_only:
                        await methods_api.post(body)
                elif digits(have[kind].phone_number or "") != digits(want):
                    changed = True
                    counts["update"] += 1
                    if not plan_only:
                        await methods_api.by_phone_authentication_method_id(METHOD_IDS[kind]).patch(
                            PhoneAuthenticationMethod(phone_number=want)
                        )
            if not changed:
                counts["in_sync"] += 1
        except Exception as e:  # a script's habit: report the user and carry on
            counts["errors"] += 1
            print(f"{upn}: {type(e).__name__}: {e}", file=sys.stderr)
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True, help="Graph root, e.g. http://127.0.0.1:8080/v1.0")
    ap.add_argument("--plan-only", action="store_true", help="read and compare, change nothing")
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args()
    token = os.environ.get("GRAPH_TOKEN")
    if not token:
        print("GRAPH_TOKEN is not set", file=sys.stderr)
        return 1
    users = load_users(args.paths)
    client = make_client(args.base_url, token)
    start = time.monotonic()
    counts = asyncio.run(reconcile(client, users, args.plan_only))
    counts["seconds"] = round(time.monotonic() - start, 3)
    print(json.dumps(counts))
    return 1 if counts["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
