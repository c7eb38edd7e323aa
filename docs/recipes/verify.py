#!/usr/bin/env python3
"""Verify a license (compact `lic1.` token or armored file) with `cryptography`.

Usage: python3 verify.py issuer.pub license.txt

Prints the signed payload JSON and exits 0 when the signature holds.
Exit status: 2 usage, 3 io, 10 malformed, 11 bad_signature,
12 untrusted_key, 50 key.
"""

import base64
import hashlib
import json
import re
import sys

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MAX_TOKEN = 64 * 1024  # a license token is at most 64 KiB
MAX_FILE = 2 * MAX_TOKEN  # an armored file at most twice that
BEGIN, END = "-----BEGIN LICENSE-----", "-----END LICENSE-----"
TOKEN = re.compile(r"lic1\.([0-9a-f]{16})\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{86})")


def fail(code, message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def extract_token(text):
    """The compact token of a bare token or an armored file."""
    text = text.lstrip(" \t\r\n\f")
    if not text.startswith("-----"):
        return text.rstrip(" \t\r\n\f")
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    if lines[0] != BEGIN:
        fail(10, f"not an armored license (expected {BEGIN})")
    rest = lines[1:]
    if rest and ":" in rest[0]:  # unsigned header lines, closed by an empty line
        if "" not in rest:
            fail(10, "header lines must be followed by an empty line")
        rest = rest[rest.index("") + 1 :]
    if END not in rest:
        fail(10, f"missing {END} (is the file cut short?)")
    body, after = rest[: rest.index(END)], rest[rest.index(END) + 1 :]
    if any(line.strip() for line in after):
        fail(10, "text after the END line")
    if not body or any(len(line) != 64 for line in body[:-1]) or not 1 <= len(body[-1]) <= 64:
        fail(10, "token lines are 64 characters, only the last may be shorter")
    return "".join(body)


def b64url_decode(text, what):
    """Strict base64url without padding: canonical encodings only."""
    if len(text) % 4 == 1:
        fail(10, f"the {what} is not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        fail(10, f"the {what} is not canonical base64url")
    return raw


def refuse_duplicates(pairs):
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        fail(10, "the payload has a duplicate key")
    return dict(pairs)


def main(argv):
    if len(argv) != 3:
        fail(2, f"usage: {argv[0]} issuer.pub license.txt")
    pub_path, license_path = argv[1], argv[2]

    # Bound the input before decoding anything.
    try:
        with open(license_path, "rb") as f:
            data = f.read(MAX_FILE + 1)
        with open(pub_path, "rb") as f:
            pem = f.read(64 * 1024)
    except OSError as e:
        fail(3, f"cannot read: {e}")
    if len(data) > MAX_FILE:
        fail(10, f"{license_path} is too large to be a license")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        fail(10, "a license is ASCII text")

    # 1. Extract and split the token: lic1.<kid>.<payload>.<signature>.
    token = extract_token(text)
    if len(token) > MAX_TOKEN:
        fail(10, "the token is larger than 64 KiB")
    m = TOKEN.fullmatch(token)
    if not m:
        fail(10, "not a well-formed lic1 token")
    kid, payload_b64, signature_b64 = m.groups()
    payload = b64url_decode(payload_b64, "payload")
    signature = b64url_decode(signature_b64, "signature")

    # 2. The key and its kid: first 8 bytes of SHA-256 of the raw 32-byte key.
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        fail(50, f"{pub_path} is not a public key in SPKI PEM form")
    if not isinstance(key, Ed25519PublicKey):
        fail(50, f"{pub_path} is not an Ed25519 public key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_kid = hashlib.sha256(raw).digest()[:8].hex()
    if kid != key_kid:
        fail(12, f"signed by key {kid}, but {pub_path} is key {key_kid}")

    # 3. Verify the signature over the ASCII bytes before the last dot.
    signed = token[: token.rindex(".")].encode("ascii")
    try:
        key.verify(signature, signed)
    except InvalidSignature:
        fail(11, "the signature does not verify: the license was changed after it was signed")

    # 4. Only now is the payload trusted: strict JSON, then print it.
    try:
        json.loads(payload.decode("utf-8"), object_pairs_hook=refuse_duplicates)
    except ValueError as e:
        fail(10, f"the payload is not JSON: {e}")
    print(payload.decode("utf-8"))


if __name__ == "__main__":
    main(sys.argv)
