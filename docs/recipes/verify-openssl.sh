#!/usr/bin/env bash
# Verify a license (compact `lic1.` token or armored file) with OpenSSL 3 only.
# Usage: verify-openssl.sh issuer.pub license.txt
# Prints the signed payload JSON and exits 0 when the signature holds.
# Exit status: 2 usage, 3 unreadable file, 10 malformed, 11 bad_signature,
# 12 untrusted_key, 50 key.
set -euo pipefail

fail() { printf 'error: %s\n' "$2" >&2; exit "$1"; }

[ "$#" -eq 2 ] || fail 2 "usage: $0 issuer.pub license.txt"
pub=$1
file=$2
[ -f "$file" ] && [ -r "$file" ] || fail 3 "cannot read $file"

# Bound the input before decoding anything: a license token is at most
# 64 KiB, an armored license file at most twice that.
[ "$(wc -c < "$file")" -le 131072 ] || fail 10 "$file is too large to be a license"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. Extract the compact token: either the file's only non-blank line, or
#    the lines between BEGIN and END after the optional header block.
token=
state=start
last_short=no
while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    case $state in
    start)
        case $line in
        "-----BEGIN LICENSE-----") state=first ;;
        -----*) fail 10 "not an armored license (expected -----BEGIN LICENSE-----)" ;;
        *[![:space:]]*)
            token=$line
            while [[ $token == [[:space:]]* ]]; do token=${token#[[:space:]]}; done
            while [[ $token == *[[:space:]] ]]; do token=${token%[[:space:]]}; done
            state=after
            ;;
        esac
        continue
        ;;
    first)
        state=body
        case $line in *:*) state=header; continue ;; esac
        ;;
    header)
        [ -n "$line" ] || state=body
        continue
        ;;
    after)
        case $line in *[![:space:]]*) fail 10 "unexpected text after the license" ;; esac
        continue
        ;;
    esac
    # state=body: token lines up to the END line.
    if [ "$line" = "-----END LICENSE-----" ]; then
        state=after
        continue
    fi
    [ "$last_short" = no ] || fail 10 "only the last token line may be shorter than 64 characters"
    [ "${#line}" -ge 1 ] && [ "${#line}" -le 64 ] || fail 10 "token lines are 1 to 64 characters"
    [ "${#line}" -eq 64 ] || last_short=yes
    token=$token$line
done < "$file"
[ "$state" = after ] || fail 10 "no license token found (is the file cut short?)"
[ "${#token}" -le 65536 ] || fail 10 "the token is larger than 64 KiB"

# 2. Split and check the shape: lic1.<kid>.<payload>.<signature>.
b64='[A-Za-z0-9_-]'
[[ $token =~ ^lic1\.([0-9a-f]{16})\.($b64+)\.($b64{86})$ ]] ||
    fail 10 "not a well-formed lic1 token"
kid=${BASH_REMATCH[1]}
payload=${BASH_REMATCH[2]}
signature=${BASH_REMATCH[3]}

# Strict base64url: re-add the `=` padding, translate to the standard
# alphabet, decode, and insist that re-encoding gives the same text back
# (this refuses non-canonical trailing bits).
b64url_decode() { # text outfile
    local text=$1 padded=$1
    case $((${#text} % 4)) in
    1) return 1 ;;
    2) padded=$text== ;;
    3) padded=$text= ;;
    esac
    printf '%s' "$padded" | tr -- '-_' '+/' | base64 -d > "$2" 2> /dev/null || return 1
    [ "$(base64 < "$2" | tr -d '\n=' | tr -- '+/' '-_')" = "$text" ]
}
b64url_decode "$payload" "$work/payload.json" || fail 10 "the payload is not base64url"
b64url_decode "$signature" "$work/sig.bin" || fail 10 "the signature is not base64url"
[ "$(wc -c < "$work/sig.bin")" -eq 64 ] || fail 10 "the signature is not 64 bytes"

# 3. The key: an Ed25519 SPKI is 44 bytes, a fixed 12-byte prefix and the
#    32-byte raw key; the kid is the first 8 bytes of SHA-256 of the raw key.
openssl pkey -pubin -in "$pub" -outform DER > "$work/pub.der" 2> /dev/null ||
    fail 50 "$pub is not a public key in SPKI PEM form"
[ "$(od -An -tx1 -N12 "$work/pub.der" | tr -d ' \n')" = 302a300506032b6570032100 ] &&
    [ "$(wc -c < "$work/pub.der")" -eq 44 ] || fail 50 "$pub is not an Ed25519 public key"
key_kid=$(tail -c 32 "$work/pub.der" | openssl dgst -sha256 -binary | od -An -tx1 -N8 | tr -d ' \n')
[ "$kid" = "$key_kid" ] || fail 12 "signed by key $kid, but $pub is key $key_kid"

# 4. Verify the Ed25519 signature over the ASCII bytes before the last dot
#    (no trailing newline).
printf '%s' "lic1.$kid.$payload" > "$work/signed.bin"
openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in "$work/signed.bin" \
    -sigfile "$work/sig.bin" > /dev/null 2>&1 ||
    fail 11 "the signature does not verify: the license was changed after it was signed"

# 5. Only now is the payload trusted: print the JSON.
cat "$work/payload.json"
printf '\n'
