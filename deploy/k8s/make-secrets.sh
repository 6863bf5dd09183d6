#!/bin/sh
# The cluster's NATS trust chain and TLS certificates as Kubernetes Secrets, once, before
# `kubectl apply -k deploy/k8s` and the NATS Helm release (deploy/k8s/nats-values.yaml):
#   deploy/k8s/make-secrets.sh [DIR]      (DIR keeps the files, default ./flotilla-trust; keep
#                                          it safe: signing.nk, revoker.json and tls/ca-key.pem
#                                          are the cluster's secrets, and a rerun reuses them)
# Secrets made (namespace $FLOTILLA_K8S_NAMESPACE, default flotilla):
#   flotilla-nats-auth  auth.conf: the operator/account JWTs the servers load (no secret key)
#   flotilla-nats-tls   tls.crt, tls.key, ca.crt: the servers' certificate (clients and routes)
#   flotilla-head-nats  head.creds, signing.nk, revoker.json, ca.pem: the head's alone
# and the ConfigMap flotilla-nats-ca (ca.pem) that workers trust the servers with. Workers get
# no NATS secret here: the head's autoscaler writes a pool join token into the Secret
# flotilla-worker-join when it first scales up (scale-workers.sh).
set -eu
DIR="${1:-./flotilla-trust}"
NS="${FLOTILLA_K8S_NAMESPACE:-flotilla}"
RELEASE="${FLOTILLA_NATS_RELEASE:-nats}"
FLOTILLA="${FLOTILLA_CLI:-flotilla}"
"$FLOTILLA" nats-trust --out "$DIR"
# the Service name clients dial, and each server pod's name on the headless Service (routes)
"$FLOTILLA" certs --out "$DIR/tls" --host "$RELEASE" --host "$RELEASE.$NS.svc" --host "$RELEASE.$NS.svc.cluster.local" \
  --host "*.$RELEASE-headless" --host "*.$RELEASE-headless.$NS.svc" --host "*.$RELEASE-headless.$NS.svc.cluster.local" --host localhost
apply() { kubectl -n "$NS" create "$@" --dry-run=client -o yaml | kubectl apply -f -; }
apply secret generic flotilla-nats-auth --from-file=auth.conf="$DIR/auth.conf"
apply secret generic flotilla-nats-tls --from-file=tls.crt="$DIR/tls/server-cert.pem" --from-file=tls.key="$DIR/tls/server-key.pem" --from-file=ca.crt="$DIR/tls/ca.pem"
apply secret generic flotilla-head-nats --from-file=head.creds="$DIR/head.creds" --from-file=signing.nk="$DIR/signing.nk" \
  --from-file=revoker.json="$DIR/revoker.json" --from-file=ca.pem="$DIR/tls/ca.pem"
apply configmap flotilla-nats-ca --from-file=ca.pem="$DIR/tls/ca.pem"
echo "flotilla: secrets written to namespace $NS (files kept in $DIR)"
