# The `vault` container of the HA profile: a Vault Proxy in front of the three nodes, so that the user's
# `http://localhost:${VAULT_PORT}` (UI, API) and the stack's `vault` healthcheck keep working. It forwards every
# request to http://vault-ha:8200 (the network alias all three nodes carry); a standby forwards it on to the
# active node. No auto-auth: the caller's own token goes through unchanged.
vault {
  address = "http://vault-ha:8200"
}

api_proxy {
  use_auto_auth_token = false
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}
