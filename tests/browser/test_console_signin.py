"""Signing in and out of the console in a browser: the local runtime's form;
the hosted flows (Cognito's hosted UI, another OpenID Connect provider) with
the authorization code and PKCE against a provider played by the test; the
token only in the tab's session storage, never in a URL; an ended session
back at the sign-in page with the reason."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from local_runtime.tokens import issue_token
from tests.browser.conftest import ConsoleErrors, sign_in
from tests.e2e.runtime_process import JWT_SECRET, RunningRuntime, RuntimeLauncher

pytestmark = pytest.mark.browser

TOKEN_KEY = "oversight.token"  # noqa: S105 - the session storage key, not a secret
COGNITO_DOMAIN = "https://oversight-test.auth.eu-west-1.amazoncognito.com"
OIDC_ISSUER = "https://idp.example.test/realms/ops"


def stored_token(page: Page) -> str | None:
    return page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})")


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def with_token(page: Page, token: str) -> None:
    """Puts a token in the tab's session storage before the console starts, as a previous sign-in would have."""
    page.add_init_script(f"sessionStorage.setItem({TOKEN_KEY!r}, {json.dumps(token)})")


def test_an_operator_signs_in_with_the_local_form(page: Page) -> None:
    # Given the console's sign-in page
    page.goto("/console/")
    expect(page.get_by_role("heading", name="Sign in to Oversight")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    # When the operator fills the form's labelled fields and signs in
    page.get_by_label("User").fill("olga")
    page.get_by_label("Roles").fill("operator, viewer")
    page.get_by_label("Tenant").fill("acme")
    page.get_by_role("button", name="Sign in").click()
    # Then the inbox opens with who is signed in in the header
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("olga · operator, viewer · acme")
    expect(page.get_by_role("link", name="Inbox")).to_have_attribute("aria-current", "page")
    # And the token, the runtime's, is in this tab's session storage only: never in the address, nor localStorage
    token = stored_token(page)
    assert token
    claims = claims_of(token)
    assert (claims["sub"], claims["custom:tenant"]) == ("olga", "acme")
    assert claims["cognito:groups"] == ["operator", "viewer"]
    assert token not in page.url
    assert token not in page.evaluate("JSON.stringify(Object.entries(localStorage))")
    # A reload keeps the session (same tab); a new tab starts signed out
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    other = page.context.new_page()
    other.goto("/console/")
    expect(other.get_by_role("button", name="Sign in")).to_be_visible()
    assert stored_token(other) is None


def test_the_form_names_the_field_it_refuses(page: Page) -> None:
    page.goto("/console/")
    page.get_by_label("User").fill("olga")
    page.get_by_label("Roles").fill("Operator")
    page.get_by_label("Tenant").fill("acme")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("did you mean 'operator'")
    page.get_by_label("Roles").fill("operator")
    page.get_by_label("User").fill("")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("User is empty")
    assert stored_token(page) is None
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()


def test_sign_out_forgets_the_token(page: Page) -> None:
    sign_in(page, "olga", "operator")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="You signed out.")).to_be_visible()
    assert stored_token(page) is None
    page.goto("/console/#/inbox")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_session_that_expires_returns_to_sign_in_with_the_reason(page: Page) -> None:
    # Given a session whose token ends in a few seconds
    with_token(page, issue_token("olga", ["operator"], "acme", JWT_SECRET, lifetime_seconds=3))
    page.goto("/console/#/inbox")
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    # Then at its end the page goes back to sign-in and says why, without a request having failed first
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("Your session expired at")).to_be_visible()
    page.evaluate("sessionStorage.clear()")


def test_a_stored_token_already_expired_is_not_used(page: Page) -> None:
    with_token(page, issue_token("olga", ["operator"], "acme", JWT_SECRET, now=time.time() - 7200, lifetime_seconds=60))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/console/")
    expect(page.get_by_text("Your session has expired. Sign in again to continue.")).to_be_visible()
    assert not any("/interventions" in url or "/stats" in url for url in requests)


def test_a_401_from_the_api_returns_to_sign_in_with_its_message(page: Page, console_errors: ConsoleErrors) -> None:
    # Given a token the API does not accept (signed with another key), still within its lifetime
    with_token(page, issue_token("mallory", ["admin"], "acme", "another-secret-that-is-long-enough-for-hs256"))
    page.goto("/console/#/inbox")
    # Then the first refusal ends the session, with the API's message
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Signed out:")).to_be_visible()
    assert stored_token(page) is None


# ---------------------------------------------------------------- hosted sign-in, the provider played by the test


@dataclass
class FakeProvider:
    """An OAuth 2.0 / OpenID Connect provider answering through Playwright's
    routing: it checks what the console sends at each step and issues an ID
    token the local runtime accepts."""

    authorize_url: str
    token_url: str
    logout_url: str
    client_id: str
    sub: str = "carol"
    roles: tuple[str, ...] = ("operator",)
    authorizations: list[dict[str, str]] = field(default_factory=list)
    exchanges: list[dict[str, str]] = field(default_factory=list)
    logouts: list[dict[str, str]] = field(default_factory=list)
    discovery: dict[str, Any] | None = None

    def route(self, route: Route) -> None:
        request = route.request
        url = urlsplit(request.url)
        endpoint = f"{url.scheme}://{url.netloc}{url.path}"
        cors = {"Access-Control-Allow-Origin": "*"}
        if self.discovery is not None and url.path.endswith("/.well-known/openid-configuration"):
            body = json.dumps(self.discovery)
            route.fulfill(status=200, headers={**cors, "Content-Type": "application/json"}, body=body)
        elif endpoint == self.authorize_url:
            query = {name: values[0] for name, values in parse_qs(url.query).items()}
            self.authorizations.append(query)
            back = f"{query['redirect_uri']}?code=the-code&state={query['state']}"
            route.fulfill(status=302, headers={"Location": back})
        elif endpoint == self.token_url and request.method == "POST":
            form = {name: values[0] for name, values in parse_qs(request.post_data or "").items()}
            self.exchanges.append(form)
            nonce = self.authorizations[-1].get("nonce") if self.authorizations else None
            claims = {
                "sub": self.sub,
                "cognito:groups": list(self.roles),
                "custom:tenant": "acme",
                "token_use": "id",
                "aud": self.client_id,
                "iat": int(time.time()),
                "exp": int(time.time()) + 3600,
            }
            if nonce:
                claims["nonce"] = nonce
            body = {
                "id_token": jwt.encode(claims, JWT_SECRET, algorithm="HS256"),
                "access_token": "opaque",
                "token_type": "Bearer",
                "expires_in": 3600,
            }
            route.fulfill(status=200, headers={**cors, "Content-Type": "application/json"}, body=json.dumps(body))
        elif endpoint == self.logout_url:
            self.logouts.append({name: values[0] for name, values in parse_qs(url.query).items()})
            route.fulfill(status=200, headers={"Content-Type": "text/html"}, body="<p>signed out</p>")
        else:
            route.fulfill(status=404, body="not a route of this provider")


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


PROVIDERS = {
    "cognito": {"CONSOLE_SIGN_IN": "cognito", "COGNITO_DOMAIN": COGNITO_DOMAIN, "COGNITO_CLIENT_ID": "console-client"},
    "oidc": {"CONSOLE_SIGN_IN": "oidc", "OIDC_ISSUER": OIDC_ISSUER, "OIDC_CLIENT_ID": "oversight-console"},
}


@dataclass
class Hosted:
    """A page of a hosted-sign-in console, and the provider it talks to."""

    runtime: RunningRuntime
    provider: FakeProvider
    page: Page


def provider_for(mode: str) -> tuple[FakeProvider, str]:
    """The provider of a mode and the origin its routes answer for."""
    if mode == "cognito":
        endpoints = [f"{COGNITO_DOMAIN}/oauth2/authorize", f"{COGNITO_DOMAIN}/oauth2/token", f"{COGNITO_DOMAIN}/logout"]
        return FakeProvider(*endpoints, client_id="console-client"), COGNITO_DOMAIN
    base = f"{OIDC_ISSUER}/protocol/openid-connect"
    provider = FakeProvider(f"{base}/auth", f"{base}/token", f"{base}/logout", client_id="oversight-console")
    provider.discovery = {
        "issuer": OIDC_ISSUER,
        "authorization_endpoint": provider.authorize_url,
        "token_endpoint": provider.token_url,
        "end_session_endpoint": provider.logout_url,
    }
    return provider, "https://idp.example.test"


@pytest.fixture(scope="module", params=sorted(PROVIDERS))
def hosted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, RunningRuntime]]:
    """A runtime whose console signs in with Cognito's hosted UI, or with another OIDC provider: the console
    function's settings overridden from the shell, as `CONSOLE_SIGN_IN=cognito make run` would. One at a time."""
    launcher = RuntimeLauncher(Path(tmp_path_factory.mktemp(f"{request.param}-logs")))
    state = tmp_path_factory.mktemp(f"{request.param}-state")
    yield request.param, launcher.start(state, environment=PROVIDERS[request.param])
    launcher.stop_all()


@pytest.fixture
def hosted_page(
    browser: Browser, hosted: tuple[str, RunningRuntime], console_errors: ConsoleErrors
) -> Iterator[Hosted]:
    """A page of the hosted runtime's console whose identity provider is played by a FakeProvider."""
    mode, runtime = hosted
    provider, origin = provider_for(mode)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=runtime.url)
    context.on("page", console_errors.watch)
    context.route(f"{origin}/**", provider.route)
    yield Hosted(runtime, provider, context.new_page())
    context.close()


def test_hosted_sign_in_with_the_authorization_code_and_pkce(hosted_page: Hosted) -> None:
    page = hosted_page.page
    provider = hosted_page.provider
    console_url = f"{hosted_page.runtime.url}/console/"
    # Given the console's sign-in page of a stack signing in with a hosted provider, opened on a deep link
    page.goto("/console/#/inbox?view=approved")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_label("User")).to_have_count(0)
    # When the user signs in there
    page.get_by_role("button", name="Sign in").click()
    # Then the browser went to the provider with a PKCE S256 challenge and a state, and came back signed in
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("carol · operator · acme")
    (asked,) = provider.authorizations
    assert (asked["response_type"], asked["redirect_uri"]) == ("code", console_url)
    assert asked["client_id"] == provider.client_id
    assert asked["code_challenge_method"] == "S256" and len(asked["state"]) >= 22
    assert "openid" in asked["scope"].split()
    (exchange,) = provider.exchanges
    assert exchange["grant_type"] == "authorization_code" and exchange["code"] == "the-code"
    assert exchange["redirect_uri"] == console_url and exchange["client_id"] == provider.client_id
    assert s256(exchange["code_verifier"]) == asked["code_challenge"]
    # The ID token is the bearer, kept in session storage; the code and state left the address bar
    assert claims_of(stored_token(page) or "")["sub"] == "carol"
    assert page.url == f"{console_url}#/inbox?view=approved"
    expect(page.get_by_role("link", name="Approved", exact=True)).to_have_attribute("aria-current", "page")

    # When the user signs out, the provider's logout endpoint is called and the token is gone
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("signed out")).to_be_visible()
    deadline = time.monotonic() + 10  # the page shows "signed out" before the provider has the request
    while not provider.logouts and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright run the route that records the logout
    (logout,) = provider.logouts
    assert logout["client_id"] == provider.client_id
    assert logout.get("logout_uri", logout.get("post_logout_redirect_uri")) == console_url
    page.goto("/console/")
    assert stored_token(page) is None


def test_a_sign_in_answer_with_a_forged_state_is_refused(hosted_page: Hosted) -> None:
    page = hosted_page.page
    # A code and state the user's own tab never asked for (e.g. a link sent by someone else)
    page.goto("/console/?code=stolen-code&state=forged")
    expect(page.get_by_text("state mismatch")).to_be_visible()
    assert hosted_page.provider.exchanges == []
    assert stored_token(page) is None
    assert "code=" not in page.url and "state=" not in page.url
