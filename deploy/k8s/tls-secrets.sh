#!/usr/bin/env bash
# deploy/k8s/tls-secrets.sh DIR
#
# Makes (or renews) the cluster CA and every identity's certificate in DIR
# with scripts/tls-certs, then creates or updates the Secrets
# parley-tls-<service> that the Deployments mount (ca.crt, <service>.crt,
# <service>.key). Keep DIR (it holds the CA key) somewhere safe, not in the
# cluster. Running it again after certificates were renewed rotates them
# with no restart: kubelet refreshes the mounted files and every service
# reads them again within PARLEY_TLS_REFRESH_SECONDS (docs/security.md).
set -euo pipefail
dir=${1:?usage: deploy/k8s/tls-secrets.sh DIR}
"$(dirname "$0")/../../scripts/tls-certs" "$dir"
for name in gateway auth message push relationship group callback; do
  kubectl -n parley create secret generic "parley-tls-$name" \
    --from-file=ca.crt="$dir/ca.crt" --from-file="$name.crt=$dir/$name.crt" \
    --from-file="$name.key=$dir/$name.key" --dry-run=client -o yaml | kubectl apply -f -
done
echo "operator certificate (grpcurl, parley-admin): $dir/operator.crt and $dir/operator.key"
