#!/bin/sh
# Throwaway development PKI for Passerelle: a CA, a server certificate for 127.0.0.1/localhost and
# client certificates (one per participant name given), written to the directory in $1
# (default certs/out/, git-ignored). Never use these outside development and tests.
#
#   certs/dev-ca.sh [out-dir] [client-name ...]      (default clients: chu-lyon labo-bioplus)
#
# Also writes <client>.fingerprint (SHA-256, for clientFingerprints in feeds.yaml).
set -eu

OUT="${1:-$(dirname "$0")/out}"
[ "$#" -gt 0 ] && shift
[ "$#" -gt 0 ] || set -- chu-lyon labo-bioplus
DAYS=30

mkdir -p "$OUT"
umask 077
cd "$OUT"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days "$DAYS" \
  -keyout ca.key -out ca.crt -subj "/O=Passerelle dev/CN=Passerelle dev CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

issue() { # name subject extensions
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$DAYS" -sha256 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

issue server "/O=Passerelle dev/CN=localhost" \
  "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"

for name in "$@"; do
  issue "$name" "/O=Passerelle dev/CN=$name" \
    "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
  openssl x509 -in "$name.crt" -noout -fingerprint -sha256 | sed 's/^.*=//' > "$name.fingerprint"
done

rm -f ca.srl
chmod 644 ./*.crt ./*.fingerprint
echo "dev PKI written to $(pwd): ca.crt server.crt/.key $(printf '%s.crt/.key ' "$@")"
