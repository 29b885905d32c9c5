# Node 3 of the HA profile (make prod-local-ha): Vault on integrated Raft storage, one of three. docs/operations.md.
# The image's `server` entrypoint also reads /vault/config (left empty on the HA nodes); compose passes this file.
storage "raft" {
  # The named volume vault-3-data: this node's copy of every secret (encrypted).
  path    = "/vault/file"
  node_id = "vault-3"
  # Elections in about a second instead of five: a local stack (Vault's production default is 5).
  performance_multiplier = 1
  # Autopilot acts every 2 s instead of Vault's 10 s: a joined node becomes a voter sooner (vault-init's
  # VAULT_RAFT_SERVER_STABILIZATION_TIME shortens the other half of that wait). docs/operations.md, "HA profile".
  autopilot_reconcile_interval = "2s"
  # No retry_join: vault-init joins every node itself (sys/storage/raft/join), and the two ways in race. Vault
  # 1.21's retry_join can record its join as pending after vault-init's join and unseal are done; that node's
  # next unseal (after a restore or a seal) then waits forever ("waiting for raft retry join process to
  # complete") until the node restarts. docs/operations.md, "HA profile".
}

listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  # Local stack: no TLS on the API. Node-to-node (cluster port) traffic is always TLS, with Vault's own certs.
  tls_disable = true
}

# How the other nodes and clients reach this one: its compose service name (each node also has the alias vault-ha).
api_addr     = "http://vault-3:8200"
cluster_addr = "https://vault-3:8201"

ui = true

# The container runs without IPC_LOCK; without this Vault refuses to start.
disable_mlock = true

# Prometheus metrics at /v1/sys/metrics?format=prometheus, kept 60 s between scrapes; read with the aurora-metrics
# token vault-init maintains (metrics-token, next to the CLI's token). docs/operations.md, "Metrics".
telemetry {
  prometheus_retention_time = "60s"
  disable_hostname          = true
}
