module aurora-secrets/pause

go 1.22
