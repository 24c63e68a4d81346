"""Drives the fake OpenID Provider (idp.ts) with an independent client, Debian's python3-authlib,
through the authorization-code flow with PKCE S256 as a public client: discovery (checked with
authlib's RFC 8414 metadata validator), the authorization URL authlib builds, the sign-in form
submitted as a browser would (the 302 read, not followed; state and RFC 9207 iss checked), the
code redeemed by authlib, the ID token verified with authlib.jose against the JWKS (OIDC Core
§3.1.3.7: iss, aud, azp, nonce, at_hash) and the access token's signature and claims. Then what
must fail: a code redeemed twice and a wrong code_verifier (invalid_grant, RFC 6749 §5.2,
RFC 7636 §4.6), and an unregistered redirect_uri (400, no redirect: RFC 6749 §4.1.2.1).

Usage: /usr/bin/python3 authlib_check.py ISSUER CLIENT_ID REDIRECT_URI USERNAME
Prints `ACCESS {claims}` (the verified access token's claims, one JSON line), then
`OK {"steps": [...]}`, and exits 0; on any deviation prints `FAIL: why` to stderr and exits 1."""
import json
import os
import re
import sys
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.jose import JsonWebKey, jwt
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.core import CodeIDToken

# The issuer is a loopback http URL: authlib's metadata validator wants https unless told.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

ISSUER, CLIENT_ID, REDIRECT_URI, USERNAME = sys.argv[1:5]
TIMEOUT = 10
steps = []


def step(name):
    steps.append(name)


class SignInForm(HTMLParser):
    """The form's action and method, its inputs by name, its label texts and button texts."""

    def __init__(self):
        super().__init__()
        self.action, self.method, self.fields, self.labels, self.buttons = None, None, {}, [], []
        self.scripts = 0
        self._text = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action, self.method = a.get("action"), (a.get("method") or "get").lower()
        elif tag == "input" and a.get("name"):
            self.fields[a["name"]] = (a.get("type") or "text", a.get("value") or "")
        elif tag in ("label", "button"):
            self._text = (tag, [])
        elif tag == "script":
            self.scripts += 1

    def handle_data(self, data):
        if self._text:
            self._text[1].append(data)

    def handle_endtag(self, tag):
        if self._text and self._text[0] == tag:
            (self.labels if tag == "label" else self.buttons).append("".join(self._text[1]).strip())
            self._text = None


def sign_in(browser, authorization_url):
    """GETs the sign-in page, submits it with USERNAME, and returns the redirect's Location."""
    page = browser.get(authorization_url, allow_redirects=False, timeout=TIMEOUT)
    assert page.status_code == 200, f"GET /authorize answered {page.status_code}: {page.headers.get('location') or page.text[:200]}"
    assert page.headers["content-type"].startswith("text/html"), page.headers["content-type"]
    assert re.search(r'<html lang="en">', page.text) and re.search(r"<title>[^<]+</title>", page.text), "page lacks lang or title"
    form = SignInForm()
    form.feed(page.text)
    assert form.scripts == 0, "the sign-in page has a script"
    assert form.method == "post" and form.action, (form.method, form.action)
    assert "Username" in form.labels and "Sign in" in form.buttons, (form.labels, form.buttons)
    assert "username" in form.fields, form.fields
    data = {name: value for name, (kind, value) in form.fields.items() if kind == "hidden"}
    data["username"] = USERNAME
    answer = browser.post(urljoin(authorization_url, form.action), data=data, allow_redirects=False, timeout=TIMEOUT)
    if answer.status_code not in (302, 303):
        alert = re.search(r'role="alert">([^<]*)<', answer.text)
        raise AssertionError(f"sign-in answered {answer.status_code}, not a redirect: {alert.group(1) if alert else answer.text[:200]}")
    location = answer.headers["location"]
    assert location.split("?")[0] == REDIRECT_URI, location
    return location


def expect_oauth_error(error, what, fn):
    try:
        fn()
    except OAuthError as e:
        assert e.error == error, f"{what}: expected {error}, got {e.error} ({e.description})"
        return
    raise AssertionError(f"{what}: expected {error}, but it succeeded")


def main():
    metadata = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=TIMEOUT).json()
    AuthorizationServerMetadata(metadata).validate()
    assert metadata["issuer"] == ISSUER, metadata["issuer"]
    assert "S256" in metadata["code_challenge_methods_supported"], metadata
    assert "none" in metadata["token_endpoint_auth_methods_supported"], metadata
    assert metadata["authorization_response_iss_parameter_supported"] is True, metadata
    assert "code" in metadata["response_types_supported"] and "public" in metadata["subject_types_supported"], metadata
    step("discovery validated")

    jwks = requests.get(metadata["jwks_uri"], timeout=TIMEOUT).json()
    key_set = JsonWebKey.import_key_set(jwks)
    for key in jwks["keys"]:
        assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256" and key["use"] == "sig", key
        assert "d" not in key and key["kid"], "the JWKS holds a private key or a key without kid"
    step("jwks holds public ES256 signing keys")

    token_responses = []
    client = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT_URI, scope="openid profile", code_challenge_method="S256")
    client.register_compliance_hook("access_token_response", lambda r: token_responses.append(r) or r)
    assert client.token_endpoint_auth_method == "none", client.token_endpoint_auth_method
    verifier, nonce = generate_token(64), generate_token(24)
    url, state = client.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    browser = requests.Session()
    location = sign_in(browser, url)
    query = parse_qs(urlsplit(location).query)
    assert query.get("state") == [state], f"state not returned unchanged: {query}"
    assert query.get("iss") == [ISSUER], f"iss (RFC 9207) missing or wrong: {query}"
    step("signed in; redirected with code, state and iss")

    token = client.fetch_token(metadata["token_endpoint"], authorization_response=location, code_verifier=verifier, state=state)
    assert token["token_type"].lower() == "bearer" and token["expires_in"] == 600, token
    headers = token_responses[-1].headers
    assert headers.get("cache-control") == "no-store" and headers.get("pragma") == "no-cache", dict(headers)
    step("code redeemed with the verifier")

    id_claims = jwt.decode(
        token["id_token"],
        key_set,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": ISSUER}, "aud": {"essential": True, "value": CLIENT_ID}},
        claims_params={"nonce": nonce, "client_id": CLIENT_ID, "access_token": token["access_token"]},
    )
    id_claims.validate()
    assert id_claims.header["alg"] == "ES256", id_claims.header
    assert id_claims["iss"] == ISSUER and id_claims["aud"] == CLIENT_ID and id_claims["nonce"] == nonce, dict(id_claims)
    assert id_claims["sub"] == USERNAME and isinstance(id_claims["auth_time"], int) and "at_hash" in id_claims, dict(id_claims)
    step("id_token verified: signature, iss, aud, azp, nonce, at_hash")

    access = jwt.decode(
        token["access_token"],
        key_set,
        claims_options={
            "iss": {"essential": True, "value": ISSUER},
            "sub": {"essential": True, "value": USERNAME},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "jti": {"essential": True},
        },
    )
    access.validate()
    assert access.header["alg"] == "ES256" and access.header["kid"] in [k["kid"] for k in jwks["keys"]], access.header
    assert access["client_id"] == CLIENT_ID and access["exp"] - access["iat"] == 600, dict(access)
    step("access token verified")

    expect_oauth_error(
        "invalid_grant",
        "the same code redeemed twice",
        lambda: client.fetch_token(metadata["token_endpoint"], authorization_response=location, code_verifier=verifier, state=state),
    )
    step("a used code refused with invalid_grant")

    verifier2 = generate_token(64)
    url2, state2 = client.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier2, nonce=generate_token(24))
    location2 = sign_in(browser, url2)
    expect_oauth_error(
        "invalid_grant",
        "a wrong code_verifier",
        lambda: client.fetch_token(
            metadata["token_endpoint"], authorization_response=location2, code_verifier=generate_token(64), state=state2
        ),
    )
    step("a wrong code_verifier refused with invalid_grant")

    params = dict(parse_qs(urlsplit(url2).query))
    params = {k: v[0] for k, v in params.items()}
    params["redirect_uri"] = "https://attacker.example/callback"
    refused = browser.get(f"{metadata['authorization_endpoint']}?{urlencode(params)}", allow_redirects=False, timeout=TIMEOUT)
    assert refused.status_code == 400, f"an unregistered redirect_uri answered {refused.status_code}"
    assert "location" not in refused.headers, f"an unregistered redirect_uri was redirected to {refused.headers['location']}"
    step("an unregistered redirect_uri refused with 400, not redirected")

    print("ACCESS " + json.dumps(dict(access), sort_keys=True))
    print("OK " + json.dumps({"steps": steps}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - every failure is reported the same way
        print(f"FAIL: {type(e).__name__}: {e} (after steps: {', '.join(steps) or 'none'})", file=sys.stderr)
        sys.exit(1)
