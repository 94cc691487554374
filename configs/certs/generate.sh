#!/bin/sh
# Regenerates the TEST-ONLY certificates in this directory (never use them in production):
#   ca.pem / ca-key.pem                self-signed test CA
#   server-cert.pem / server-key.pem   serverAuth            (tls.conf, tlsverify.conf)
#   client-cert.pem / client-key.pem   clientAuth            (clients of tlsverify.conf)
#   route-cert.pem / route-key.pem     serverAuth+clientAuth (cluster-tls.conf)
# These leaves have the SANs DNS:localhost, IP:127.0.0.1 and IP:::1.
# Client certificates for `tls { verify_and_map: true }` (clientAuth; tests/tls.rs), each
# made to map to a user one way (map-NAME-cert.pem / map-NAME-key.pem):
#   map-email     SANs email:alice@natsd.test, DNS:bob.natsd.test (the email is tried first)
#   map-dns       SAN DNS:bob.natsd.test only
#   map-subject   no SAN; subject O=natsd, OU=dev, CN=carol
#   map-dc        no SAN; subject DC=org, DC=natsd, UID=erin, CN=erin
#   map-none      SANs email:nobody@natsd.test, DNS:nobody.natsd.test: no user has them
# Keys: ECDSA P-256, unencrypted PKCS#8 PEM. Validity: 10 years from now. Needs only
# `openssl` (1.1.1 or 3.x).
# Usage: sh configs/certs/generate.sh [map]   (from any directory; writes next to this script)
#   without an argument, regenerates everything, the CA included; with `map`, only the
#   map-* certificates, signed by the CA already there (the others stay as they are).
set -eu

DAYS=3650
SUBJECT="/O=natsd test"
dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# Extension sections for `openssl req -x509` (CA) and `openssl x509 -req` (leaves). The empty
# [req]/[dn] sections keep `openssl req` away from the system openssl.cnf.
cat >"$tmp/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
CNF

# leaf_ext EXTENDED_KEY_USAGE [SUBJECT_ALT_NAME]: the extension section of a leaf
# certificate (without a subjectAltName when none is given).
leaf_ext() {
    cat <<CNF
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = $1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF
    if [ -n "${2:-}" ]; then
        echo "subjectAltName = $2"
    fi
}

# new_key FILE: a fresh P-256 key.
new_key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
    chmod 600 "$1"
}

# serial: a random positive 128-bit serial number (so no .srl file is needed).
serial() {
    echo "0x$(openssl rand -hex 16)"
}

# leaf NAME SUBJECT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAME]: NAME-key.pem and NAME-cert.pem,
# signed by the CA.
leaf() {
    leaf_ext "$3" "${4:-}" >"$tmp/$1.cnf"
    new_key "$dir/$1-key.pem"
    # The CSR only goes through the pipe: no .csr file is left behind.
    openssl req -new -sha256 -config "$tmp/openssl.cnf" -subj "$2" -key "$dir/$1-key.pem" |
        openssl x509 -req -sha256 -days "$DAYS" -set_serial "$(serial)" \
            -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
            -extfile "$tmp/$1.cnf" -extensions leaf -out "$dir/$1-cert.pem" 2>/dev/null
    openssl verify -CAfile "$dir/ca.pem" "$dir/$1-cert.pem" >/dev/null
}

map_leaves() {
    leaf map-email "$SUBJECT/OU=map/CN=email" clientAuth \
        "email:alice@natsd.test, DNS:bob.natsd.test"
    leaf map-dns "$SUBJECT/OU=map/CN=dns" clientAuth "DNS:bob.natsd.test"
    leaf map-subject "/O=natsd/OU=dev/CN=carol" clientAuth
    leaf map-dc "/DC=org/DC=natsd/UID=erin/CN=erin" clientAuth
    leaf map-none "$SUBJECT/OU=map/CN=nobody" clientAuth \
        "email:nobody@natsd.test, DNS:nobody.natsd.test"
}

case "${1:-}" in
map)
    map_leaves
    echo "generated in $dir: map-{email,dns,subject,dc,none}-{cert,key}.pem ($DAYS days)"
    exit 0
    ;;
"") ;;
*)
    echo "usage: sh $0 [map]" >&2
    exit 2
    ;;
esac

new_key "$dir/ca-key.pem"
openssl req -new -x509 -sha256 -days "$DAYS" -set_serial "$(serial)" \
    -config "$tmp/openssl.cnf" -extensions ca -subj "$SUBJECT/CN=natsd test CA" \
    -key "$dir/ca-key.pem" -out "$dir/ca.pem"

san="DNS:localhost, IP:127.0.0.1, IP:::1"
leaf server "$SUBJECT/OU=server/CN=localhost" serverAuth "$san"
leaf client "$SUBJECT/OU=client/CN=localhost" clientAuth "$san"
leaf route "$SUBJECT/OU=route/CN=localhost" "serverAuth, clientAuth" "$san"
map_leaves

echo "generated in $dir: ca.pem ca-key.pem {server,client,route}-{cert,key}.pem" \
    "map-{email,dns,subject,dc,none}-{cert,key}.pem ($DAYS days)"
