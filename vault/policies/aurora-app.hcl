# aurora-app: the app's AppRole (VAULT_APP_POLICY). Least privilege: the user credentials it stores and the
# secrets Clients may name, nothing in sys/, no other mount.
# vault-init fills in the mount (VAULT_KV_MOUNT) and base path (VAULT_KV_BASE_PATH) placeholders before writing it.

# User credentials, KV v2: write new versions, read, soft-delete.
path "{{mount}}/data/{{base}}/*" {
  capabilities = ["create", "read", "update", "delete"]
}

# Versions, listing, and destroying every version when a credential is deleted.
path "{{mount}}/metadata/{{base}}/*" {
  capabilities = ["read", "list", "delete"]
}

# Destroying one version: the one a write created, when its reference row could not be saved.
path "{{mount}}/destroy/{{base}}/*" {
  capabilities = ["update"]
}

# Secrets that Clients may reference (e.g. secret/aidbox/client) and the bootstrap admin secret: read only.
path "secret/data/*" {
  capabilities = ["read"]
}

# Its own PostgreSQL users from the database secrets engine: one for queries, one for migrations (run at start).
# Nothing else of database/; renewing and revoking only the leases of those two roles.
path "database/creds/aurora-app" {
  capabilities = ["read"]
}
path "database/creds/aurora-maintenance" {
  capabilities = ["read"]
}
path "sys/leases/renew/database/creds/aurora-app/*" {
  capabilities = ["update"]
}
path "sys/leases/renew/database/creds/aurora-maintenance/*" {
  capabilities = ["update"]
}
path "sys/leases/revoke/database/creds/aurora-app/*" {
  capabilities = ["update"]
}
path "sys/leases/revoke/database/creds/aurora-maintenance/*" {
  capabilities = ["update"]
}
