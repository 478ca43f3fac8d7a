"""EIP-4361 messages: what `SiweMessage.text()` builds, `parse` reads back, and what it refuses."""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.auth.siwe import InvalidSignIn, SiweMessage, parse, recover_signer

ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
ISSUED = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def message(**changes: Any) -> SiweMessage:
    fields: dict[str, Any] = {
        "domain": "app.example.org",
        "address": ADDRESS,
        "uri": "https://app.example.org/login",
        "chain_id": 31337,
        "nonce": "a1B2c3D4e5",
        "issued_at": ISSUED,
    }
    return SiweMessage(**(fields | changes))


def replace_line(text: str, prefix: str, new: str | None) -> str:
    """The message with the line starting with `prefix` replaced (or dropped when new is None)."""
    lines = text.split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    if new is None:
        del lines[index]
    else:
        lines[index] = new
    return "\n".join(lines)


# --- build and parse ---


def test_text_without_statement_has_the_eip4361_layout() -> None:
    assert message().text() == (
        "app.example.org wants you to sign in with your Ethereum account:\n"
        f"{ADDRESS}\n"
        "\n"
        "URI: https://app.example.org/login\n"
        "Version: 1\n"
        "Chain ID: 31337\n"
        "Nonce: a1B2c3D4e5\n"
        "Issued At: 2024-05-01T12:00:00Z"
    )


def test_parse_round_trips_without_statement() -> None:
    built = message()
    assert parse(built.text()) == built


def test_parse_round_trips_with_statement() -> None:
    built = message(statement="Sign in to label-ledger.")
    text = built.text()
    assert "\n\nSign in to label-ledger.\n\nURI: " in text
    assert parse(text) == built


def test_parse_round_trips_every_optional_field() -> None:
    built = message(
        statement="I accept the terms: https://app.example.org/tos",
        expiration_time=ISSUED + dt.timedelta(minutes=10),
        not_before=ISSUED - dt.timedelta(minutes=1),
        request_id="req-42",
    )
    parsed = parse(built.text())
    assert parsed == built
    assert parsed.expiration_time == dt.datetime(2024, 5, 1, 12, 10, tzinfo=dt.UTC)
    assert parsed.not_before == dt.datetime(2024, 5, 1, 11, 59, tzinfo=dt.UTC)
    assert parsed.request_id == "req-42"


def test_parse_reads_timestamps_with_offsets_as_the_same_instant() -> None:
    text = replace_line(message().text(), "Issued At: ", "Issued At: 2024-05-01T14:00:00+02:00")
    assert parse(text).issued_at == ISSUED


def test_parse_ignores_resources() -> None:
    text = message(request_id="r1").text() + "\nResources:\n- ipfs://bafybei/\n- https://x.org/a"
    assert parse(text) == message(request_id="r1")


# --- strict refusals ---


@pytest.mark.parametrize(
    "header",
    [
        "app.example.org wants you to sign in with your account:",
        "app.example.org wants you to sign in with your Ethereum account",
        "",
    ],
)
def test_parse_refuses_wrong_header(header: str) -> None:
    text = message().text().split("\n", 1)[1]
    with pytest.raises(InvalidSignIn, match="not a Sign-In with Ethereum message"):
        parse(f"{header}\n{text}")


@pytest.mark.parametrize("address", [ADDRESS.lower(), ADDRESS.upper().replace("0X", "0x"), "0x12"])
def test_parse_refuses_address_that_is_not_checksummed(address: str) -> None:
    text = message().text().replace(ADDRESS, address)
    with pytest.raises(InvalidSignIn, match="EIP-55"):
        parse(text)


def test_parse_refuses_fields_out_of_order() -> None:
    lines = message().text().split("\n")
    chain_at = next(i for i, line in enumerate(lines) if line.startswith("Chain ID: "))
    lines[chain_at], lines[chain_at + 1] = lines[chain_at + 1], lines[chain_at]  # Nonce first
    with pytest.raises(InvalidSignIn, match="out-of-order"):
        parse("\n".join(lines))


def test_parse_refuses_a_repeated_field() -> None:
    text = message().text() + "\nNonce: zzzzzzzzzz"
    with pytest.raises(InvalidSignIn, match="out-of-order"):
        parse(text)


def test_parse_refuses_an_unknown_field() -> None:
    text = replace_line(message().text(), "Version: ", "Version: 1\nColour: blue")
    with pytest.raises(InvalidSignIn, match="unexpected"):
        parse(text)


def test_parse_refuses_missing_required_field() -> None:
    with pytest.raises(InvalidSignIn, match="lacks issued_at"):
        parse(replace_line(message(statement="Hi.").text(), "Issued At: ", None))


def test_parse_refuses_another_version() -> None:
    with pytest.raises(InvalidSignIn, match="version 1"):
        parse(replace_line(message().text(), "Version: ", "Version: 2"))


@pytest.mark.parametrize("nonce", ["short12", "a1B2c3D4-5", "a1B2c3D4 e5", "x" * 65, "ünïcödé123"])
def test_parse_refuses_bad_nonce(nonce: str) -> None:
    with pytest.raises(InvalidSignIn, match="nonce"):
        parse(replace_line(message().text(), "Nonce: ", f"Nonce: {nonce}"))


@pytest.mark.parametrize(
    "chain_id",
    [
        "one",
        "-1",
        "0x7a69",
        # Unicode digits: str.isdigit() says yes, but EIP-4361 allows only ASCII DIGIT
        "\u00b2",  # superscript two: int() raises ValueError
        "\u0661\u0662",  # Arabic-Indic "12": int() reads it as 12
    ],
    ids=["word", "negative", "hex", "superscript_digit", "arabic_indic_digits"],
)
def test_parse_refuses_chain_id_that_is_not_ascii_digits(chain_id: str) -> None:
    with pytest.raises(InvalidSignIn, match="Chain ID"):
        parse(replace_line(message().text(), "Chain ID: ", f"Chain ID: {chain_id}"))


@pytest.mark.parametrize(
    ("prefix", "value"),
    [
        ("Issued At: ", "yesterday"),
        ("Issued At: ", "2024-05-01T12:00:00"),  # no timezone
        ("Issued At: ", "2024-13-01T12:00:00Z"),
        ("Expiration Time: ", "soon"),
        ("Expiration Time: ", "2024-05-01 12:10"),  # no timezone
        ("Not Before: ", "2024-05-01T25:00:00Z"),
    ],
)
def test_parse_refuses_bad_timestamp(prefix: str, value: str) -> None:
    built = message(
        expiration_time=ISSUED + dt.timedelta(minutes=10),
        not_before=ISSUED - dt.timedelta(minutes=1),
    )
    with pytest.raises(InvalidSignIn, match=prefix.removesuffix(": ")):
        parse(replace_line(built.text(), prefix, f"{prefix}{value}"))


def test_parse_refuses_a_truncated_message() -> None:
    with pytest.raises(InvalidSignIn):
        parse("\n".join(message().text().split("\n")[:5]))


# --- signatures ---


def test_recover_signer_returns_the_checksummed_signer() -> None:
    wallet = Account.from_key("0x" + "11" * 32)
    text = message(address=wallet.address).text()
    signature = wallet.sign_message(encode_defunct(text=text)).signature.hex()
    assert recover_signer(text, "0x" + signature) == wallet.address


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "0x",
        "0xzz",
        "0x1234",  # too short
        "0x" + "00" * 65,  # r = s = 0
        "0x" + "ff" * 65,  # r, s above the curve order
        "0x" + "11" * 64 + "1b",  # valid shape, no point to recover
    ],
    ids=["empty", "bare_0x", "not_hex", "too_short", "zero_r_s", "r_s_over_order", "no_point"],
)
def test_recover_signer_refuses_malformed_signature(signature: str) -> None:
    with pytest.raises(InvalidSignIn, match="malformed"):
        recover_signer(message().text(), signature)


# --- property: whatever we build, we parse back to the same message ---

_ALNUM = string.ascii_letters + string.digits
# EIP-4361 statement = *( reserved / unreserved / " " ); request-id = *pchar
_STATEMENT_CHARS = _ALNUM + "-._~:/?#[]@!$&'()*+,;= "
_PCHAR = _ALNUM + "-._~!$&'()*+,;=:@"

addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}\.[a-z]{2,6}(:[1-9][0-9]{0,4})?", fullmatch=True)
moments = st.datetimes(
    min_value=dt.datetime(1990, 1, 1),  # noqa: DTZ001 (hypothesis bounds are naive by contract)
    max_value=dt.datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(dt.UTC),
).map(lambda moment: moment.replace(microsecond=0))
statements = st.text(alphabet=_STATEMENT_CHARS, min_size=1, max_size=80).filter(
    # a statement that itself reads like the URI line cannot be told apart line by line
    lambda s: not s.startswith("URI: ")
)


@st.composite
def messages(draw: st.DrawFn) -> SiweMessage:
    host = draw(hosts)
    return SiweMessage(
        domain=host,
        address=draw(addresses),
        uri=f"https://{host}/{draw(st.text(alphabet=_ALNUM, max_size=12))}",
        chain_id=draw(st.integers(min_value=1, max_value=2**64)),
        nonce=draw(st.text(alphabet=_ALNUM, min_size=8, max_size=64)),
        issued_at=draw(moments),
        expiration_time=draw(st.none() | moments),
        not_before=draw(st.none() | moments),
        statement=draw(st.none() | statements),
        request_id=draw(st.none() | st.text(alphabet=_PCHAR, min_size=1, max_size=40)),
    )


@settings(derandomize=True, max_examples=300, deadline=None)
@given(messages())
def test_parse_of_text_is_the_message(built: SiweMessage) -> None:
    assert parse(built.text()) == built
