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
case "${1:-}" in
  up)
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
