# aurora-agent: the vault-agent's AppRole. Read on exactly the secrets it renders to files, nothing else.
# vault-init replaces the placeholder below with one read-only block per `secretPath` in vault/agent/secrets.json,
# so adding a file there is the only step needed to let the agent read it.

{{agent_paths}}
