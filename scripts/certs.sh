#!/usr/bin/env bash
# Run-time TLS material and credentials for the local secured Kafka listeners and PostgreSQL
# (never committed; everything lives in .local/certs, mode 0600 for keys and passwords).
#
#   scripts/certs.sh ensure   create what is missing (idempotent); prints the directory
#   scripts/certs.sh renew    delete and create everything again
#
# Files:
#   ca.pem, ca.key                 the local CA that signs every certificate below
#   server.pem, server.key         broker and PostgreSQL certificate, SAN DNS:localhost only
#                                  (so connecting to 127.0.0.1 is a wrong-hostname case)
#   broker-keystore.pem            server key (PKCS#8) + certificate, Kafka's PEM keystore
#   client.pem, client.key         client certificate for mutual TLS (CN=logagg-client)
#   rogue-ca.pem                   a CA nobody trusts (the untrusted-CA case)
#   kafka-scram-password           password of the SCRAM-SHA-512 Kafka user "logagg"
#   pg-tls-password                password of PostgreSQL role logagg_tls (hostssl only)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

DAYS=825

# new_key FILE: an unencrypted PKCS#8 RSA key.
new_key() {
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  chmod 600 "$1"
}

# sign NAME SUBJECT SAN EXTENDED_KEY_USAGE: NAME.key + NAME.pem signed by the local CA.
sign() {
  local name="$1" subject="$2" san="$3" eku="$4" ext
  new_key "$CERTS_DIR/$name.key"
  ext="$(mktemp)"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n%s' \
    "$eku" "${san:+subjectAltName=$san}" >"$ext"
  openssl req -new -key "$CERTS_DIR/$name.key" -subj "$subject" -out "$CERTS_DIR/$name.csr" 2>/dev/null
  openssl x509 -req -in "$CERTS_DIR/$name.csr" -CA "$CERTS_DIR/ca.pem" -CAkey "$CERTS_DIR/ca.key" \
    -CAcreateserial -days "$DAYS" -sha256 -extfile "$ext" -out "$CERTS_DIR/$name.pem" 2>/dev/null
  rm -f "$ext" "$CERTS_DIR/$name.csr"
}

# new_ca NAME SUBJECT: a self-signed CA NAME.pem (key NAME.key).
new_ca() {
  new_key "$CERTS_DIR/$1.key"
  openssl req -x509 -new -key "$CERTS_DIR/$1.key" -subj "$2" -days "$DAYS" -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$CERTS_DIR/$1.pem" 2>/dev/null
}

# new_password FILE: 32 random URL-safe characters.
new_password() {
  (umask 077 && head -c 24 /dev/urandom | base64 | tr '+/' '-_' >"$1")
}

cmd_ensure() {
  need_cmd openssl openssl
  mkdir -p "$CERTS_DIR"
  chmod 700 "$CERTS_DIR"
  if [[ ! -s "$CERTS_DIR/ca.pem" ]]; then
    info "creating the local CA and certificates in $CERTS_DIR"
    new_ca ca "/CN=logagg local CA"
    sign server "/CN=localhost" "DNS:localhost" serverAuth
    sign client "/CN=logagg-client" "" clientAuth
    cat "$CERTS_DIR/server.key" "$CERTS_DIR/server.pem" >"$CERTS_DIR/broker-keystore.pem"
    chmod 600 "$CERTS_DIR/broker-keystore.pem"
    new_ca rogue-ca "/CN=untrusted CA"
    rm -f "$CERTS_DIR/rogue-ca.key" "$CERTS_DIR/ca.srl"
  fi
  [[ -s "$CERTS_DIR/kafka-scram-password" ]] || new_password "$CERTS_DIR/kafka-scram-password"
  [[ -s "$CERTS_DIR/pg-tls-password" ]] || new_password "$CERTS_DIR/pg-tls-password"
  # The certificates are readable by the (possibly unprivileged) service users; the keys
  # are copied by pg.sh for PostgreSQL, and read by the broker, which runs as us.
  chmod 644 "$CERTS_DIR"/*.pem
  chmod 600 "$CERTS_DIR"/*.key "$CERTS_DIR/broker-keystore.pem"
  chmod 711 "$CERTS_DIR"
  printf '%s\n' "$CERTS_DIR"
}

case "${1:-}" in
  ensure) cmd_ensure ;;
  renew)
    rm -rf "$CERTS_DIR"
    cmd_ensure
    ;;
  *)
    echo "usage: $0 ensure|renew" >&2
    exit 2
    ;;
esac
