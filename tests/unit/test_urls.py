"""The one URL check every credential-bound URL passes: what it refuses, that the refusal names
where the URL came from, and that it never echoes the value (a password, a token)."""

from __future__ import annotations

import pytest

from entrasync.adapters.http import require_safe_url as reexported
from entrasync.adapters.urls import UnsafeUrlError, check_url, require_safe_url

WHAT = "NEURALTRUST_SCIM_URL"
PASSWORD = "fake-leak-password-for-tests"

REFUSED = [
    pytest.param(
        f"https://admin:{PASSWORD}@scim.example.com/v2",
        "holds a user name or password",
        id="a user name and password",
    ),
    pytest.param(
        f"http://admin:{PASSWORD}@127.0.0.1:8080/v2",
        "holds a user name or password",
        id="user info on loopback, where httpx would send Basic auth instead of the token",
    ),
    pytest.param(
        f"https://{PASSWORD}@scim.example.com/v2", "holds a user name", id="a user name alone"
    ),
    pytest.param(
        f"https://:{PASSWORD}@scim.example.com/v2", "holds a user name", id="a password alone"
    ),
    pytest.param("https://@scim.example.com/v2", "holds a user name", id="an empty user info"),
    pytest.param(
        f"https://admin%3A{PASSWORD}@scim.example.com/v2",
        "holds a user name",
        id="percent-encoded user info",
    ),
    pytest.param(
        f"https://scim.example.com/v2?token={PASSWORD}",
        "has a query string or fragment",
        id="a query string",
    ),
    pytest.param("https://scim.example.com/v2?", "has a query string", id="an empty query"),
    pytest.param(
        f"https://scim.example.com/v2#{PASSWORD}", "has a query string or fragment", id="a fragment"
    ),
    pytest.param("https://scim.example.com:abc/v2", "has an invalid port", id="a word as port"),
    pytest.param("https://scim.example.com:99999/v2", "has an invalid port", id="port too high"),
    pytest.param("https://scim.example.com:0/v2", "has an invalid port", id="port zero"),
    pytest.param("https://scim.example.com:-1/v2", "has an invalid port", id="negative port"),
    pytest.param("https://scim.example.com:+1/v2", "has an invalid port", id="a signed port"),
    pytest.param("https:///v2", "has no valid host name", id="no host"),
    pytest.param("https://scim example.com/v2", "has no valid host name", id="a space in host"),
    pytest.param("https://-scim-.example.com/v2", "has no valid host name", id="hyphen label"),
    pytest.param("https://scim..example.com/v2", "has no valid host name", id="empty label"),
    pytest.param(
        "https://" + ".".join(["a" * 63] * 4) + "/v2",  # 255 characters: DNS allows 253
        "has no valid host name",
        id="a host name over 253 characters",
    ),
    pytest.param("https://xn--/v2", "has no valid host name", id="an empty IDNA label"),
    pytest.param("https://xn--abc/v2", "has no valid host name", id="a broken IDNA label"),
    pytest.param("http://xn--abc/v2", "has no valid host name", id="a broken IDNA label, http"),
    pytest.param("https://scim\x00.example.com/v2", "is not a valid URL", id="a NUL byte"),
    pytest.param("https://[::1/v2", "NEURALTRUST_SCIM_URL", id="an unclosed IPv6 bracket"),
    pytest.param("http://scim.example.com/v2", "is not an https:// URL", id="plain http"),
    # Loopback too, but no proxy rule names them: plain http would go to HTTP_PROXY in clear.
    pytest.param(
        "http://127.0.0.2:8080/v2", "is not an https:// URL", id="plain http to 127.0.0.2"
    ),
    pytest.param(
        "http://localhost.:8080/v2", "is not an https:// URL", id="plain http to localhost."
    ),
    pytest.param("ftp://scim.example.com/v2", "is not an https:// URL", id="another scheme"),
]


@pytest.mark.parametrize(("url", "message"), REFUSED)
def test_a_risky_or_broken_url_is_refused_by_name_without_echoing_it(
    url: str, message: str
) -> None:
    with pytest.raises(UnsafeUrlError) as caught:
        require_safe_url(url, WHAT)
    said = f"{caught.value.message}\n{caught.value.hint}"
    assert caught.value.message.startswith(f"{WHAT} ")
    assert message in caught.value.message
    assert PASSWORD not in said
    assert url not in said
    assert "scim.example.com" not in said


def test_the_user_info_message_says_how_the_credential_does_travel() -> None:
    with pytest.raises(UnsafeUrlError) as caught:
        require_safe_url(
            f"https://admin:{PASSWORD}@h.example/v2",
            WHAT,
            sent="the SCIM token is sent only as a bearer token",
        )
    assert caught.value.message == (
        "NEURALTRUST_SCIM_URL holds a user name or password; the SCIM token is sent only as a "
        "bearer token"
    )
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("remove the user:password@ part from NEURALTRUST_SCIM_URL")


@pytest.mark.parametrize(
    "url",
    [
        "https://app.neuraltrust.ai/api/scim/v2",
        "https://graph.microsoft.com",
        "https://login.microsoftonline.us/",
        "https://scim.example.com:8443/v2",
        "https://scim.example.com.:443/v2",
        "https://scim_server:8443/v2",
        "https://bücher.example/v2",
        "https://10.0.0.5/v2",
        "https://[2001:db8::1]:8443/v2",
        "http://127.0.0.1:8080/v2",
        "http://localhost:1/v2",
        "http://[::1]:9/v2",
    ],
    ids=[
        "NeuralTrust's hosted endpoint",
        "the Graph root",
        "a national cloud with a trailing slash",
        "a port",
        "a fully qualified host with a trailing dot",
        "a container host name with an underscore",
        "an internationalised host name",
        "an IPv4 address",
        "an IPv6 address",
        "plain http to IPv4 loopback",
        "plain http to localhost",
        "plain http to IPv6 loopback",
    ],
)
def test_ordinary_endpoints_are_accepted(url: str) -> None:
    assert require_safe_url(url, WHAT).host


def test_a_query_is_allowed_only_where_asked_and_never_user_info_or_a_fragment() -> None:
    oidc = "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0"
    assert check_url(oidc, "ACTIONS_ID_TOKEN_REQUEST_URL", allow_query=True).query
    with pytest.raises(UnsafeUrlError, match="query string or fragment"):
        check_url(oidc, "ACTIONS_ID_TOKEN_REQUEST_URL")
    with pytest.raises(UnsafeUrlError, match="query string or fragment"):
        check_url(oidc + "#x", "ACTIONS_ID_TOKEN_REQUEST_URL", allow_query=True)
    with pytest.raises(UnsafeUrlError, match="user name or password"):
        check_url("https://u:p@h.example/?a=1", "ACTIONS_ID_TOKEN_REQUEST_URL", allow_query=True)


def test_every_module_uses_the_one_check() -> None:
    assert reexported is require_safe_url
