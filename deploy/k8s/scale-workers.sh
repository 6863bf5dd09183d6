#!/bin/sh
# The head's exec autoscaler provider on Kubernetes (mounted from the flotilla-scale ConfigMap).
#   scale-workers.sh up     one more replica of the worker Deployment
#   scale-workers.sh down   remove worker pod $FLOTILLA_NODE_ID (an idle one the head chose):
#                           it is marked cheapest to delete, then the count goes down by one
#   scale-workers.sh list   the running worker pods' names (= their FLOTILLA_NODE_ID)
# --current-replicas makes a concurrent change fail instead of being overwritten; the
# autoscaler retries on its next pass.
set -eu
NS="${FLOTILLA_K8S_NAMESPACE:-flotilla}"
DEPLOY="${FLOTILLA_K8S_WORKERS:-flotilla-worker}"
SELECTOR="${FLOTILLA_K8S_SELECTOR:-app.kubernetes.io/name=flotilla-worker}"
replicas() { kubectl -n "$NS" get deployment "$DEPLOY" -o jsonpath='{.spec.replicas}'; }
# The autoscaler passes a pool join token (FLOTILLA_JOIN_TOKEN) with every `up`; the first one is
# kept in the Secret the worker pods read theirs from (their env), so workers join without any
# NATS secret of their own. Revoke it with `flotilla token revoke ID` and delete the Secret to
# rotate: the next `up` writes a fresh one.
JOIN_SECRET="${FLOTILLA_K8S_JOIN_SECRET:-flotilla-worker-join}"
case "${1:-}" in
  up)
    if [ -n "${FLOTILLA_JOIN_TOKEN:-}" ] && ! kubectl -n "$NS" get secret "$JOIN_SECRET" >/dev/null 2>&1; then
      kubectl -n "$NS" create secret generic "$JOIN_SECRET" --from-literal=token="$FLOTILLA_JOIN_TOKEN"
    fi
    n="$(replicas)"
    kubectl -n "$NS" scale deployment "$DEPLOY" --current-replicas="$n" --replicas="$((n + 1))"
    ;;
  down)
    : "${FLOTILLA_NODE_ID:?the pod to remove}"
    kubectl -n "$NS" annotate pod "$FLOTILLA_NODE_ID" --overwrite controller.kubernetes.io/pod-deletion-cost=-1000 || true
    n="$(replicas)"
    [ "$n" -gt 0 ] && kubectl -n "$NS" scale deployment "$DEPLOY" --current-replicas="$n" --replicas="$((n - 1))"
    ;;
  list)
    # pods being deleted (they drain) have a deletionTimestamp: a second field, filtered out
    kubectl -n "$NS" get pods -l "$SELECTOR" --field-selector=status.phase!=Failed,status.phase!=Succeeded \
      -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.deletionTimestamp}{"\n"}{end}' | awk 'NF == 1 { print $1 }'
    ;;
  *) echo "usage: $0 up|down|list" >&2; exit 2 ;;
esac
