"""A real OpenID provider for the tests: oidc-provider-mock (Authlib's server) on loopback.

Run as a separate process (``python tests/oidc/provider.py``); it prints its port, then
serves until its standard input closes. Two additions sit in front of the provider, as WSGI
middleware, because the tests need a provider that misbehaves on request:

* PKCE is enforced (the mock accepts any code): a code is exchanged only with the verifier
  whose S256 challenge the authorization request carried.
* ``POST /_test/fault {"mode": ...}`` makes the *next* token response carry a bad ID token:
  tampered, re-signed with another audience or issuer, ``alg: none``, signed by a key the
  provider never published, expired, or a replay of the previous ID token.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

import flask
from joserfc import jwt
from joserfc.jwk import RSAKey
from oidc_provider_mock import app as provider_app
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

state = {"fault": None, "last_id_token": None, "challenges": {}, "storage": None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(id_token: str) -> dict:
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _sign(claims: dict, key=None) -> str:
    jwk = state["storage"].jwk.as_dict(is_private=True)
    own = RSAKey.import_key(jwk)
    key = key or own
    return jwt.encode({"alg": "RS256", "kid": jwk.get("kid")}, claims, key)


def _faulty(id_token: str, mode: str) -> str:
    claims = _claims(id_token)
    if mode == "tamper":  # change a claim, keep the provider's signature
        header, _payload, signature = id_token.split(".")
        claims["sub"] = "someone-else"
        return ".".join([header, _b64(json.dumps(claims).encode()), signature])
    if mode == "aud":
        return _sign({**claims, "aud": ["another-client"]})
    if mode == "iss":
        return _sign({**claims, "iss": "https://evil.example"})
    if mode == "expired":
        return _sign({**claims, "exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200})
    if mode == "alg_none":
        header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{header}.{_b64(json.dumps(claims).encode())}."
    if mode == "other_key":
        return _sign(claims, RSAKey.generate_key(2048))
    if mode == "replay":
        return state["last_id_token"] or id_token
    raise ValueError(mode)


class Faults:
    """WSGI middleware: PKCE enforcement and fault injection around the real provider."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path == "/_test/fault":
            state["fault"] = request.get_json()["mode"]
            return Response(status=204)(environ, start_response)
        if request.path == "/oauth2/token" and request.method == "POST":
            return self.token(request)(environ, start_response)
        response = Response.from_app(self.app, environ)
        if request.path == "/oauth2/authorize" and response.status_code == 302:
            self.remember_challenge(request, response)
        return response(environ, start_response)

    def remember_challenge(self, request, response) -> None:
        code = parse_qs(urlsplit(response.headers["Location"]).query).get("code", [None])[0]
        if code:
            state["challenges"][code] = (request.args.get("code_challenge"),
                                         request.args.get("code_challenge_method"))

    def token(self, request) -> Response:
        environ = request.environ
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(raw)
        form = Request(environ).form
        environ["wsgi.input"] = io.BytesIO(raw)  # the provider reads the body again
        challenge, method = state["challenges"].pop(form.get("code", ""), (None, None))
        verifier = form.get("code_verifier", "")
        expected = _b64(hashlib.sha256(verifier.encode()).digest())
        if method != "S256" or not challenge or challenge != expected:
            return Response(json.dumps({"error": "invalid_grant",
                                        "error_description": "PKCE verification failed"}),
                            400, content_type="application/json")
        response = Response.from_app(self.app, environ)
        if response.status_code != 200:
            return response
        body = json.loads(response.get_data())
        issued = body["id_token"]
        mode, state["fault"] = state["fault"], None
        if mode:
            body["id_token"] = _faulty(issued, mode)
        state["last_id_token"] = issued
        return Response(json.dumps(body), 200, content_type="application/json")


def build():
    app = provider_app(require_client_registration=True, require_nonce=True)

    @app.before_request
    def _keep_storage():
        state["storage"] = flask.g.oidc_provider_mock_storage

    return Faults(app)


def main() -> None:
    server = make_server("127.0.0.1", 0, build(), threaded=True)
    print(server.server_port, flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test process goes away
    server.shutdown()


if __name__ == "__main__":
    main()
