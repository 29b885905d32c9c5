#!/usr/bin/dumb-init /bin/sh
# shellcheck shell=dash
# The official hashicorp/vault entrypoint's behaviour, rewritten for Debian's dash (no ${1:0:1}) and gosu
# (Debian has no su-exec). Kept: `server` -> `vault server -config=/vault/config ...`, bare subcommands and
# flags go to `vault`, VAULT_LOCAL_CONFIG, SKIP_CHOWN, SKIP_SETCAP, the drop from root to `vault`.
# Not kept (docker-compose.yml does not use them): VAULT_REDIRECT_INTERFACE / VAULT_CLUSTER_INTERFACE.
set -e

# A crashing server must not leave its memory, unseal keys included, in a core file.
ulimit -c 0

VAULT_CONFIG_DIR=/vault/config

if [ -n "$VAULT_LOCAL_CONFIG" ]; then
    echo "$VAULT_LOCAL_CONFIG" > "$VAULT_CONFIG_DIR/local.json"
fi

case "$1" in
    -*) set -- vault "$@" ;;
esac

if [ "$1" = 'server' ]; then
    shift
    set -- vault server \
        -config="$VAULT_CONFIG_DIR" \
        -dev-root-token-id="$VAULT_DEV_ROOT_TOKEN_ID" \
        -dev-listen-address="${VAULT_DEV_LISTEN_ADDRESS:-"0.0.0.0:8200"}" \
        "$@"
elif [ "$1" = 'version' ]; then
    set -- vault "$@"
elif [ -n "$1" ] && vault --help "$1" 2>&1 | grep -q "vault $1"; then
    # `vault` exits non-zero for help output, so the help text is the only way to tell a subcommand.
    set -- vault "$@"
fi

if [ "$1" = 'vault' ]; then
    if [ "$(id -u)" != '0' ]; then
        if [ -n "$SKIP_CHOWN" ]; then
            echo "Container is running as non-root user, ignoring SKIP_CHOWN" >&2
        fi
        if [ -n "$SKIP_SETCAP" ]; then
            echo "Container is running as non-root user, ignoring SKIP_SETCAP" >&2
        fi
    else
        if [ -z "$SKIP_CHOWN" ]; then
            # Bind mounts and fresh volumes may belong to someone else; the server runs as vault.
            for dir in /vault/config /vault/logs /vault/file; do
                if [ "$(stat -c %u "$dir")" != "$(id -u vault)" ]; then
                    chown -R vault:vault "$dir" || echo "Could not chown $dir (may not have appropriate permissions)"
                fi
            done
        fi

        if [ -z "$SKIP_SETCAP" ]; then
            # mlock keeps Vault's memory out of swap; without IPC_LOCK the binary would no longer start.
            setcap cap_ipc_lock=+ep "$(readlink -f "$(command -v vault)")"
            if ! vault -version 1>/dev/null 2>/dev/null; then
                >&2 echo "Couldn't start vault with IPC_LOCK. Disabling IPC_LOCK, please use --cap-add IPC_LOCK"
                setcap cap_ipc_lock=-ep "$(readlink -f "$(command -v vault)")"
            fi
        fi

        set -- gosu vault "$@"
    fi
fi

exec "$@"
