"""The redaction helper: credential names, known secret values, exception chains."""

from __future__ import annotations

import pytest
from yarl import URL

from extapi_pandas.errors import ConnectError
from extapi_pandas.redaction import MASK, Redactor, Secret, is_sensitive_name


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "Set-Cookie",
        "X-API-Key",
        "x-api-key",
        "api_key",
        "apikey",
        "access_token",
        "X-Auth-Token",
        "client_secret",
        "password",
        "Ocp-Apim-Subscription-Key",
        "sig",
    ],
)
def test_sensitive_names(name: str) -> None:
    assert is_sensitive_name(name)


@pytest.mark.parametrize(
    "name", ["Accept", "Content-Type", "market", "campaign_id", "monkey", "tokenizer"]
)
def test_ordinary_names(name: str) -> None:
    assert not is_sensitive_name(name)


def test_headers_masked_by_name() -> None:
    redactor = Redactor()

    masked = redactor.headers(
        {
            "Authorization": "Bearer abc",
            "Cookie": "sid=1",
            "X-API-Key": "k",
            "Accept": "application/json",
        }
    )

    assert masked == {
        "Authorization": MASK,
        "Cookie": MASK,
        "X-API-Key": MASK,
        "Accept": "application/json",
    }


def test_headers_masked_by_value() -> None:
    redactor = Redactor(["s3cr3t-value"])

    assert redactor.headers({"X-Note": "has s3cr3t-value"}) == {"X-Note": f"has {MASK}"}


def test_url_masks_query_and_password() -> None:
    redactor = Redactor()

    shown = redactor.url("https://ann:pw123@api.example/x?api_key=k1&market=DE")

    assert shown == f"https://ann:{MASK}@api.example/x?api_key={MASK}&market=DE"


def test_url_masks_known_value() -> None:
    redactor = Redactor(["k-98765"])

    shown = redactor.url(URL("https://api.example/x").with_query(appid="k-98765"))

    assert shown == f"https://api.example/x?appid={MASK}"


def test_text_masks_longest_first() -> None:
    redactor = Redactor(["abcd", "abcdefgh"])

    assert redactor.text("x abcdefgh y abcd") == f"x {MASK} y {MASK}"


def test_short_secrets_not_searched() -> None:
    redactor = Redactor(["abc"])

    assert redactor.text("abc abc") == "abc abc"


def test_add_learns_new_secret() -> None:
    redactor = Redactor(["first-secret"])

    redactor.add("later-token")

    assert redactor.text("first-secret later-token") == f"{MASK} {MASK}"


def test_exception_chain_is_masked() -> None:
    redactor = Redactor(["tok-12345"])
    cause = OSError(111, "refused for url?key=tok-12345")
    error = ConnectError("campaign 'A': failed with tok-12345")
    error.__cause__ = cause
    error.add_note("hint tok-12345")

    redactor.exception(error)

    assert "tok-12345" not in str(error)
    assert "tok-12345" not in str(cause)
    assert error.__notes__ == [f"hint {MASK}"]


def test_exception_chain_loop_terminates() -> None:
    redactor = Redactor(["tok-12345"])
    first = ValueError("tok-12345")
    second = ValueError("b")
    first.__context__ = second
    second.__context__ = first

    redactor.exception(first)

    assert str(first) == MASK


def test_secret_repr_and_str_masked() -> None:
    secret = Secret("s3cr3t-xyz")

    assert repr(secret) == "Secret('[secure]')"
    assert str(secret) == "Secret('[secure]')"
    assert f"{secret}" == "Secret('[secure]')"
    assert secret.reveal() == "s3cr3t-xyz"


def test_secret_rejects_non_string() -> None:
    with pytest.raises(TypeError, match=r"a secret must be a str, got int"):
        Secret(123)  # type: ignore[arg-type]
