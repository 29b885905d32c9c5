# aurora-vault-init: vault-init's own token, for the work it does between configure runs, so that it needs
# neither the root token nor the unseal keys for it: rotating the audit log by switching the file audit
# device (enable the next, disable the previous) and an authenticated probe for its health (lookup-self,
# which the default policy already grants).

path "sys/audit" {
  capabilities = ["read", "sudo"]
}
path "sys/audit/*" {
  capabilities = ["create", "update", "delete", "sudo"]
}
