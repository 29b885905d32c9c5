/**
 * The database secrets engine (`<mount>/config`, `roles`, `creds`, `rotate-root`), as Vault's API documents it
 * (developer.hashicorp.com/vault/api-docs/secret/databases; the PostgreSQL plugin's own fields in
 * .../databases/postgresql). Leases of the credentials it issues are renewed and revoked through sys/leases
 * (VaultClient.renewLease / revokeLease), like every other lease.
 */
import { VaultNotFoundError } from '../errors.js';
import { registerSecret } from '../logger.js';
import type { VaultClient } from '../vault-client.js';

/** `<mount>/config/<name>` as Vault answers a read: the password is never returned. */
export interface DatabaseConnection {
  plugin_name: string;
  allowed_roles: string[];
  /** The plugin's settings: connection_url, username, password_authentication, … (no password). */
  connection_details: Record<string, unknown>;
  verify_connection?: boolean;
  root_credentials_rotate_statements?: string[];
  password_policy?: string;
}

/** What `<mount>/config/<name>` takes; `password` only when it must change (Vault keeps it otherwise). */
export interface DatabaseConnectionWrite {
  plugin_name: string;
  connection_url: string;
  username: string;
  password?: string;
  allowed_roles: string[];
  verify_connection: boolean;
  /** PostgreSQL plugin: `scram-sha-256` hashes each password in Vault before it is sent to the server. */
  password_authentication?: 'password' | 'scram-sha-256';
}

/** A dynamic role, `<mount>/roles/<name>`; TTLs in seconds (Vault reads them back as numbers). */
export interface DatabaseRole {
  db_name: string;
  creation_statements: string[];
  revocation_statements: string[];
  default_ttl: number;
  max_ttl: number;
}

/** `<mount>/creds/<role>`: a new database user and the lease that owns it; durations in seconds. */
export interface DatabaseCredentials {
  leaseId: string;
  leaseDuration: number;
  renewable: boolean;
  username: string;
  password: string;
}

export class DatabaseApi {
  constructor(
    private readonly client: VaultClient,
    readonly mount: string,
  ) {}

  /** The connection named `name`, or undefined when there is none. */
  async readConnection(name: string): Promise<DatabaseConnection | undefined> {
    try {
      return (await this.client.read<{ data: DatabaseConnection }>(`${this.mount}/config/${name}`)).data;
    } catch (err) {
      if (err instanceof VaultNotFoundError) return undefined;
      throw err;
    }
  }

  /** Creates or updates a connection; with verify_connection Vault connects first and refuses a bad password. */
  async writeConnection(name: string, connection: DatabaseConnectionWrite): Promise<void> {
    // Vault connects to the database to verify the connection before it answers.
    await this.client.write(`${this.mount}/config/${name}`, connection, { timeoutMs: this.client.workTimeout() });
  }

  async deleteConnection(name: string): Promise<void> {
    await this.client.delete(`${this.mount}/config/${name}`);
  }

  /** `rotate-root`: Vault sets a password only it knows for the connection's own user. */
  async rotateRoot(name: string): Promise<void> {
    await this.client.write(`${this.mount}/rotate-root/${name}`, {}, { timeoutMs: this.client.workTimeout() });
  }

  async readRole(name: string): Promise<DatabaseRole | undefined> {
    try {
      return (await this.client.read<{ data: DatabaseRole }>(`${this.mount}/roles/${name}`)).data;
    } catch (err) {
      if (err instanceof VaultNotFoundError) return undefined;
      throw err;
    }
  }

  async writeRole(name: string, role: DatabaseRole): Promise<void> {
    await this.client.write(`${this.mount}/roles/${name}`, role);
  }

  /**
   * New credentials of `role`: Vault runs the role's creation statements and leases the user. The password is
   * registered with the redacting logger before it is returned, so no caller can log it first.
   */
  async credentials(role: string): Promise<DatabaseCredentials> {
    const res = await this.client.read<{
      lease_id: string;
      lease_duration: number;
      renewable: boolean;
      data: { username: string; password: string };
    }>(`${this.mount}/creds/${role}`, { timeoutMs: this.client.workTimeout() });
    registerSecret(res.data.password);
    return {
      leaseId: res.lease_id,
      leaseDuration: res.lease_duration,
      renewable: res.renewable,
      username: res.data.username,
      password: res.data.password,
    };
  }
}
