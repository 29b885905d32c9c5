# The Vault server of the compose stack. The official image's entrypoint runs `vault server -config=/vault/config`.
storage "file" {
  # The named volume `vault-data`: it holds every secret (encrypted). Back it up with the init material.
  path = "/vault/file"
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  # Local stack: no TLS. Published on 127.0.0.1 only (see docker-compose.yml).
  tls_disable = true
}

# The address other containers use to reach this node (redirects, agent, app).
api_addr = "http://vault:8200"

ui = true

# The container runs without IPC_LOCK; without this Vault refuses to start.
disable_mlock = true

# Prometheus metrics at /v1/sys/metrics?format=prometheus, kept 60 s between scrapes; read with the aurora-metrics
# token vault-init maintains (metrics-token, next to the CLI's token). docs/operations.md, "Metrics".
telemetry {
  prometheus_retention_time = "60s"
  disable_hostname          = true
}
