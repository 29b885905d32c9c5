# aurora-operator: the token vault-init leaves in the CLI's token helper (~/.vault-token in the vault
# container), so that `docker exec -it vault vault kv ...` works without the root token.
# Day-to-day secret work and read-only views; no seal/unseal/init, no policy, auth, mount or audit changes.
# vault-init fills in the mount (VAULT_KV_MOUNT) and base path (VAULT_KV_BASE_PATH) placeholders.

# KV v2 at the app's mount: everything `vault kv` does (put, patch, get, list, delete, undelete, destroy, metadata).
path "{{mount}}/data/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}
path "{{mount}}/metadata/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}
path "{{mount}}/delete/*" {
  capabilities = ["update"]
}
path "{{mount}}/undelete/*" {
  capabilities = ["update"]
}
path "{{mount}}/destroy/*" {
  capabilities = ["update"]
}

# `vault token capabilities aurora/users/` checks the path as typed, while KV v2 serves data/ and metadata/:
# this mirror makes that command show the rights above. KV v2 itself answers no request on these paths.
path "{{mount}}/{{base}}/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}

# The dev-mode style `secret/` mount: the Client secret (secret/aidbox/client) and the bootstrap admin secret.
path "secret/data/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}
path "secret/metadata/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}
path "secret/delete/*" {
  capabilities = ["update"]
}
path "secret/undelete/*" {
  capabilities = ["update"]
}
path "secret/destroy/*" {
  capabilities = ["update"]
}

# A PostgreSQL session for maintenance (backup, restore, psql by hand): `vault read database/creds/aurora-maintenance`,
# a user that lives for the lease (VAULT_DB_DEFAULT_TTL); renewing and revoking those leases.
path "database/creds/aurora-maintenance" {
  capabilities = ["read"]
}
path "sys/leases/renew/database/creds/aurora-maintenance/*" {
  capabilities = ["update"]
}
path "sys/leases/revoke/database/creds/aurora-maintenance/*" {
  capabilities = ["update"]
}

# Read-only views of the server: mounts, auth methods, policies, health.
path "sys/mounts" {
  capabilities = ["read"]
}
path "sys/auth" {
  capabilities = ["read"]
}
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/*" {
  capabilities = ["read"]
}
path "sys/internal/ui/mounts" {
  capabilities = ["read"]
}
path "sys/internal/ui/mounts/*" {
  capabilities = ["read"]
}
path "sys/capabilities-self" {
  capabilities = ["update"]
}

# Raft autopilot's view of the cluster (`vault operator raft autopilot state`): vault-init's watch loop reads it
# with this token, and its health is green only when autopilot is healthy with every node a voter. Read-only;
# an error on file storage, where there is no autopilot.
path "sys/storage/raft/autopilot/state" {
  capabilities = ["read"]
}
