#!/usr/bin/python3
"""A real Vault client (Debian's python3-hvac) against provsecret's Vault
KV v2 dialect.  Called by test/node/tests/99_vault_clients.test.mjs with
VAULT_ADDR, PS_VAULT_JWT (an access token), PS_VAULT_TENANT; prints one line
per check ("ok name" / "not ok name: why") and never a value or token."""
import hashlib
import os
import secrets
import sys

import hvac

addr = os.environ["VAULT_ADDR"]
jwt = os.environ["PS_VAULT_JWT"]
tenant = os.environ["PS_VAULT_TENANT"]
failures = 0


def check(name, cond, why=""):
    global failures
    if cond:
        print("ok " + name)
    else:
        failures += 1
        print("not ok " + name + (": " + why if why else ""))


def digest(s):
    return hashlib.sha256(s.encode()).hexdigest()


# JWT login: the client token is the JWT itself
anon = hvac.Client(url=addr)
login = anon.auth.jwt.jwt_login(role="reader", jwt=jwt)
check("jwt login gives a client token", login["auth"]["client_token"] == jwt)
check("jwt login lists principals as policies",
      "user:" + os.environ["PS_VAULT_SUB"] in login["auth"]["policies"])
client = hvac.Client(url=addr, token=login["auth"]["client_token"])
check("is_authenticated (lookup-self)", client.is_authenticated())
me = client.lookup_token()["data"]
check("lookup-self ttl", 0 < me["ttl"] <= 400, str(me["ttl"]))

kv = client.secrets.kv.v2
path = "project/%s/HVAC_KEY" % tenant
v1 = "hvac-canary-" + secrets.token_hex(8)
v2 = "hvac-canary-" + secrets.token_hex(8)
w = kv.create_or_update_secret(path=path, secret={"key": v1}, cas=0)
check("write with cas=0 creates version 1", w["data"]["version"] == 1)
try:
    kv.create_or_update_secret(path=path, secret={"key": v2}, cas=0)
    check("stale cas is refused", False, "accepted")
except hvac.exceptions.InvalidRequest as e:
    check("stale cas is refused",
          "check-and-set parameter did not match the current version" in str(e))
w = kv.create_or_update_secret(path=path, secret={"key": v2}, cas=1)
check("write with cas=1 makes version 2", w["data"]["version"] == 2)
r = kv.read_secret_version(path=path)
check("read gives the value under key",
      digest(r["data"]["data"]["key"]) == digest(v2))
check("read metadata version", r["data"]["metadata"]["version"] == 2)
r = kv.read_secret_version(path=path, version=2)
check("read version=2 (the current one)",
      digest(r["data"]["data"]["key"]) == digest(v2))
r = kv.read_secret_version(path=path, version=1)
check("read version=1 (kept)", digest(r["data"]["data"]["key"]) == digest(v1))
check("read version=1 metadata version", r["data"]["metadata"]["version"] == 1)
try:
    kv.read_secret_version(path=path, version=7)
    check("read of a version never written is 404", False, "answered")
except hvac.exceptions.InvalidPath:
    check("read of a version never written is 404", True)
lst = kv.list_secrets(path="project/%s" % tenant)
check("list shows the key", "HVAC_KEY" in lst["data"]["keys"])
md = kv.read_secret_metadata(path=path)
check("metadata current_version", md["data"]["current_version"] == 2)
check("metadata lists the kept versions",
      sorted(md["data"]["versions"]) == ["1", "2"], str(sorted(md["data"]["versions"])))
kv.delete_metadata_and_all_versions(path=path)
kv.delete_metadata_and_all_versions(path=path)  # idempotent
try:
    kv.read_secret_version(path=path)
    check("deleted secret is 404", False, "answered")
except hvac.exceptions.InvalidPath:
    check("deleted secret is 404", True)
health = client.sys.read_health_status(method="GET")
check("sys/health", health["initialized"] is True and health["sealed"] is False)
bad = hvac.Client(url=addr, token="not-a-token")
try:
    bad.secrets.kv.v2.read_secret_version(path=path)
    check("unknown token is 403", False, "answered")
except hvac.exceptions.Forbidden:
    check("unknown token is 403", True)
sys.exit(1 if failures else 0)
