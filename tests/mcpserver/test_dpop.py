"""RFC 9449 proof verification rule by rule (§4.3), thumbprints (RFC 7638) and stateless nonces."""

from __future__ import annotations

import json
import time

import jwt
import pytest

from mcpserver import dpop
from tests.dpopclient import DpopKey, b64url

pytestmark = pytest.mark.django_db

URL = "https://rs.example/mcp"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


@pytest.fixture(scope="module")
def key():
    return DpopKey("ES256")


def check(proof, **kwargs):
    options = {"method": "POST", "uri": URL, "lifetime": 60, "access_token": TOKEN, **kwargs}
    return dpop.verify(proof, **options)


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_valid_proof_gives_the_keys_rfc7638_thumbprint(alg):
    client = DpopKey(alg)
    verified = check(client.proof("POST", URL, TOKEN))
    assert verified.jkt == client.thumbprint


def test_rfc7638_example_thumbprint():
    example = {  # RFC 7638 §3.1
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMic"
        "AtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPk"
        "sINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert dpop.thumbprint(example) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_ath_is_base64url_sha256_of_the_token():
    assert dpop.access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == (
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )  # RFC 9449 §7.1, Figure 12


@pytest.mark.parametrize("value", [None, "", "a.b.c", "not a jwt", "x" * 5000])
def test_missing_or_malformed_proof(value):
    with pytest.raises(dpop.InvalidProof):
        check(value)


def test_two_proofs_in_one_header_are_refused(key):
    with pytest.raises(dpop.InvalidProof, match="Exactly one"):
        check(key.proof("POST", URL, TOKEN) + "," + key.proof("POST", URL, TOKEN))


def test_typ_must_be_dpop_jwt(key):
    with pytest.raises(dpop.InvalidProof, match="typ"):
        check(key.proof("POST", URL, TOKEN, header={"typ": "JWT"}))


def test_alg_outside_the_allow_list_is_refused(key):
    proof = jwt.encode({"jti": "x", "htm": "POST", "htu": URL, "iat": int(time.time())}, "s" * 32, "HS256",
                       headers={"typ": "dpop+jwt", "jwk": {"kty": "oct", "k": "c2VjcmV0"}})  # fmt: skip
    with pytest.raises(dpop.InvalidProof, match="algorithm"):
        check(proof)
    with pytest.raises(dpop.InvalidProof, match="algorithm"):
        check(key.proof("POST", URL, TOKEN), algorithms=("RS256",))


def test_missing_jwk_is_refused(key):
    proof = jwt.encode({"jti": "x", "htm": "POST", "htu": URL, "iat": int(time.time())}, key.private, "ES256",
                       headers={"typ": "dpop+jwt"})  # fmt: skip
    with pytest.raises(dpop.InvalidProof, match="jwk"):
        check(proof)


def test_a_jwk_holding_the_private_key_is_refused(key):
    private = json.loads(jwt.get_algorithm_by_name("ES256").to_jwk(key.private))
    with pytest.raises(dpop.InvalidProof, match="private"):
        check(key.proof("POST", URL, TOKEN, header={"jwk": private}))


def test_signature_by_another_key_is_refused(key):
    other = DpopKey("ES256")
    with pytest.raises(dpop.InvalidProof, match="signature"):
        check(other.proof("POST", URL, TOKEN, header={"jwk": key.jwk}))


def test_a_jwk_of_the_wrong_type_for_alg_is_refused(key):
    rsa_key = DpopKey("RS256")
    with pytest.raises(dpop.InvalidProof):
        check(key.proof("POST", URL, TOKEN, header={"jwk": rsa_key.jwk}))


def test_htm_must_match(key):
    with pytest.raises(dpop.InvalidProof, match="htm"):
        check(key.proof("GET", URL, TOKEN))


@pytest.mark.parametrize(
    "htu", ["https://rs.example/mcp?x=1", "https://rs.example/mcp#f", "HTTPS://RS.example:443/mcp"]
)
def test_htu_is_compared_without_query_or_fragment_and_normalised(key, htu):
    assert check(key.proof("POST", htu, TOKEN)).jkt == key.thumbprint


WRONG_URIS = ["https://rs.example/other", "http://rs.example/mcp", "https://evil.example/mcp",
              "https://rs.example:8443/mcp", "https://rs.example:bad/mcp", 42]  # fmt: skip


@pytest.mark.parametrize("htu", WRONG_URIS)
def test_wrong_htu_is_refused(key, htu):
    with pytest.raises(dpop.InvalidProof, match="htu"):
        check(key.proof("POST", URL, TOKEN, htu=htu))


@pytest.mark.parametrize("offset", [-120, +60])
def test_iat_outside_the_window_is_refused(key, offset):
    with pytest.raises(dpop.InvalidProof, match="iat"):
        check(key.proof("POST", URL, TOKEN, iat=int(time.time()) + offset))


def test_iat_within_the_lifetime_is_accepted(key):
    assert check(key.proof("POST", URL, TOKEN, iat=int(time.time()) - 50))


@pytest.mark.parametrize("claims", [{"iat": "now"}, {"iat": True}, {"jti": ""}, {"jti": 7}])
def test_malformed_claims_are_refused(key, claims):
    with pytest.raises(dpop.InvalidProof):
        check(key.proof("POST", URL, TOKEN, **claims))


def test_a_proof_is_accepted_once(key):
    proof = key.proof("POST", URL, TOKEN)
    check(proof)
    with pytest.raises(dpop.InvalidProof, match="used before"):
        check(proof)


def test_a_failed_proof_does_not_spend_its_jti(key):
    proof = key.proof("POST", URL, TOKEN)
    with pytest.raises(dpop.InvalidProof):
        check(proof, access_token="another")
    assert check(proof)


def test_ath_must_match_the_token(key):
    with pytest.raises(dpop.InvalidProof, match="ath"):
        check(key.proof("POST", URL))  # no ath
    with pytest.raises(dpop.InvalidProof, match="ath"):
        check(key.proof("POST", URL, "another token"))


def test_no_ath_is_needed_without_a_token(key):
    assert check(key.proof("POST", URL), access_token=None)


def test_nonce_required_and_checked(key):
    with pytest.raises(dpop.UseNonce):
        check(key.proof("POST", URL, TOKEN), nonce_window=300)
    with pytest.raises(dpop.UseNonce):
        check(key.proof("POST", URL, TOKEN, nonce="made-up"), nonce_window=300)
    assert check(key.proof("POST", URL, TOKEN, nonce=dpop.nonce(300)), nonce_window=300)


def test_a_nonce_lives_two_windows():
    issued = dpop.nonce(300, now=1000.0)
    assert dpop.nonce_valid(issued, 300, now=1000.0 + 300)
    assert not dpop.nonce_valid(issued, 300, now=1000.0 + 600)
    assert not dpop.nonce_valid(None, 300)


def test_nonces_depend_on_the_secret(settings):
    issued = dpop.nonce(300)
    settings.SECRET_KEY = "another secret, another deployment" * 2
    assert not dpop.nonce_valid(issued, 300)


def test_b64url_has_no_padding():
    assert b64url(b"\xff") == "_w"


def test_symmetric_or_none_algorithms_are_refused_even_when_configured(key):
    claims = {"jti": "x", "htm": "POST", "htu": URL, "iat": int(time.time())}
    unsigned = jwt.encode(claims, None, "none", headers={"typ": "dpop+jwt", "jwk": key.jwk})
    with pytest.raises(dpop.InvalidProof, match="algorithm"):
        check(unsigned, algorithms=("none", "HS256", "ES256"))
