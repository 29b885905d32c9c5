# aurora-metrics: the token vault-init keeps in metrics-token next to the operator token (the vault-cli volume in
# compose), for Prometheus and `make status`. Read-only telemetry and cluster health: no secret, no token, no
# configuration is readable with it.

# Vault's telemetry (`telemetry` stanza in vault/config*): GET /v1/sys/metrics?format=prometheus.
path "sys/metrics" {
  capabilities = ["read"]
}

# Raft voters, failure tolerance and health of the HA profile (answers "not Raft" on a single node).
path "sys/storage/raft/autopilot/state" {
  capabilities = ["read"]
}

# The token's own upkeep (it has no default policy): vault-init checks and renews it with itself.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
