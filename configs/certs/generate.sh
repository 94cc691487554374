#!/bin/sh
# Regenerates the TEST-ONLY certificates in this directory (never use them in production):
#   ca.pem / ca-key.pem                self-signed test CA
#   server-cert.pem / server-key.pem   serverAuth            (tls.conf, tlsverify.conf)
#   client-cert.pem / client-key.pem   clientAuth            (clients of tlsverify.conf)
#   route-cert.pem / route-key.pem     serverAuth+clientAuth (cluster-tls.conf)
# Every leaf has the SANs DNS:localhost, IP:127.0.0.1 and IP:::1. Keys: ECDSA P-256,
# unencrypted PKCS#8 PEM. Validity: 10 years from now. Needs only `openssl` (1.1.1 or 3.x).
# Usage: sh configs/certs/generate.sh   (from any directory; writes next to this script)
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

# leaf_ext EXTENDED_KEY_USAGE: the extension section of a leaf certificate.
leaf_ext() {
    cat <<CNF
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = $1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
CNF
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

new_key "$dir/ca-key.pem"
openssl req -new -x509 -sha256 -days "$DAYS" -set_serial "$(serial)" \
    -config "$tmp/openssl.cnf" -extensions ca -subj "$SUBJECT/CN=natsd test CA" \
    -key "$dir/ca-key.pem" -out "$dir/ca.pem"

for kind in server client route; do
    case $kind in
    server) eku=serverAuth ;;
    client) eku=clientAuth ;;
    route) eku="serverAuth, clientAuth" ;;
    esac
    leaf_ext "$eku" >"$tmp/$kind.cnf"
    new_key "$dir/$kind-key.pem"
    # The CSR only goes through the pipe: no .csr file is left behind.
    openssl req -new -sha256 -config "$tmp/openssl.cnf" \
        -subj "$SUBJECT/OU=$kind/CN=localhost" -key "$dir/$kind-key.pem" |
        openssl x509 -req -sha256 -days "$DAYS" -set_serial "$(serial)" \
            -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
            -extfile "$tmp/$kind.cnf" -extensions leaf -out "$dir/$kind-cert.pem" 2>/dev/null
    openssl verify -CAfile "$dir/ca.pem" "$dir/$kind-cert.pem" >/dev/null
done

echo "generated in $dir: ca.pem ca-key.pem {server,client,route}-{cert,key}.pem ($DAYS days)"
