"""Drives the fake Vault with an independent client (Debian's python3-hvac) through the
semantics the broker relies on, and prints one JSON line: {"ok": true, "steps": [...]}.
Any deviation raises, so the process exits non-zero. Env: VAULT_ADDR, VAULT_TOKEN (root)."""
import json
import os

import hvac
from hvac import exceptions

ADDR = os.environ["VAULT_ADDR"]
steps = []


def step(name):
    steps.append(name)


def expect_error(kind, what, fn):
    try:
        fn()
    except kind:
        return
    raise AssertionError(f"expected {kind.__name__} from {what}")


root = hvac.Client(url=ADDR, token=os.environ["VAULT_TOKEN"])
assert root.is_authenticated(), "root token not accepted"
step("root lookup-self")

policy = {"path": {"auth/token/create": {"capabilities": ["update"]},
                   "database/creds/readonly": {"capabilities": ["read"]}}}
root.sys.create_or_update_policy(name="hvac-check", policy=json.dumps(policy))
step("policy written")

parent = root.auth.token.create(policies=["hvac-check"], ttl="10m", meta={"incident_id": "INC-HVAC"})["auth"]
looked = root.auth.token.lookup(parent["client_token"])["data"]
assert "hvac-check" in looked["policies"] and looked["meta"]["incident_id"] == "INC-HVAC", looked
assert 0 < looked["ttl"] <= 600, looked
step("token created and looked up")

parent_client = hvac.Client(url=ADDR, token=parent["client_token"])
child = parent_client.auth.token.create(policies=["hvac-check"], ttl="5m", num_uses=0)["auth"]
assert child["orphan"] is False, child
child_client = hvac.Client(url=ADDR, token=child["client_token"])
secret = child_client.read("database/creds/readonly")
lease_id = secret["lease_id"]
assert lease_id.startswith("database/creds/readonly/") and secret["data"]["password"], secret
assert root.sys.read_lease(lease_id)["data"]["id"] == lease_id
assert root.auth.token.lookup_accessor(child["accessor"])["data"]["id"] == ""
step("child created beneath parent; lease read with child")

expect_error(exceptions.InvalidRequest, "create with foreign policies",
             lambda: parent_client.auth.token.create(policies=["not-held"], ttl="1m"))
step("child policies outside the parent refused")

root.auth.token.revoke_accessor(parent["accessor"])
expect_error(exceptions.InvalidRequest, "lookup-accessor of the child", lambda: root.auth.token.lookup_accessor(child["accessor"]))
expect_error(exceptions.Forbidden, "the child's lookup-self", child_client.auth.token.lookup_self)
expect_error(exceptions.InvalidRequest, "lookup of the child's lease", lambda: root.sys.read_lease(lease_id))
step("parent revoked: child and its lease dead")

other = root.auth.token.create(policies=["hvac-check"], ttl="5m")["auth"]
other_lease = hvac.Client(url=ADDR, token=other["client_token"]).read("database/creds/readonly")["lease_id"]
root.adapter.put("/v1/sys/leases/revoke", json={"lease_id": other_lease, "sync": True})
expect_error(exceptions.InvalidRequest, "lookup of the revoked lease", lambda: root.sys.read_lease(other_lease))
assert root.auth.token.lookup_accessor(other["accessor"])["data"]["accessor"] == other["accessor"]
step("lease revoked on its own with sync; its token lives on")

limited = root.auth.token.create(policies=["hvac-check"], ttl="5m", num_uses=2)["auth"]
limited_client = hvac.Client(url=ADDR, token=limited["client_token"])
limited_client.auth.token.lookup_self()
limited_client.auth.token.lookup_self()
expect_error(exceptions.Forbidden, "a third use", limited_client.auth.token.lookup_self)
step("num_uses exhausted")

print(json.dumps({"ok": True, "steps": steps}))
