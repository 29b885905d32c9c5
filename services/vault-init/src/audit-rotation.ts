/**
 * Audit log rotation, by size and by age: every VAULT_AUDIT_CHECK_INTERVAL_MS, look at the file the device
 * writes; past VAULT_AUDIT_ROTATE_SIZE, or older than VAULT_AUDIT_ROTATE_AGE (counted from the last rotation,
 * or from vault-init's start), switch the device to the next file of the ring (configure/audit.ts), which keeps
 * VAULT_AUDIT_KEEP_FILES files. vault-init must see the audit directory at the path Vault writes (compose mounts
 * the vault-logs volume at /vault/logs in both containers); when it cannot, rotation by size is off and it says
 * so once. With VAULT_AUDIT_FILE=stdout there is no file: the container runtime rotates Vault's output.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger, VaultClient } from '@aurora/common';
import type { VaultInitConfig } from './config.js';
import {
  AUDIT_STDOUT,
  ourAuditDevices,
  rotateAuditFile,
  switchAuditDevice,
  switchTarget,
  unlistedDevicesWarning,
  type AuditSwitch,
} from './configure/audit.js';
import { isStopping } from './critical.js';
import { auditLogRotations } from './metrics.js';

type Run = <T>(fn: (client: VaultClient) => Promise<T>) => Promise<T>;

export class AuditRotation {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private since = Date.now();
  private problem?: string;
  /** The device paths already reported as held by a device Vault does not list. */
  private readonly reportedUnlisted = new Set<string>();

  constructor(
    private readonly config: Readonly<VaultInitConfig>,
    private readonly logger: Logger,
    private readonly run: Run,
  ) {}

  start(): void {
    if (this.config.auditFile === AUDIT_STDOUT) {
      this.logger.info(
        "the audit log goes to Vault's standard output (VAULT_AUDIT_FILE=stdout): the container runtime keeps and " +
          'rotates it, vault-init does not',
      );
      return;
    }
    const loop = async () => {
      if (this.stopped) return;
      await this.check();
      if (this.stopped) return;
      this.timer = setTimeout(() => void loop(), this.config.audit.checkMs);
      this.timer.unref();
    };
    this.timer = setTimeout(() => void loop(), this.config.audit.checkMs);
    this.timer.unref();
  }

  /** Stops the checks. A device switch in flight is critical work: the stop waits for it (critical.ts). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One look, and a rotation when due. Never throws: a problem is logged when it starts and when it ends. */
  async check(): Promise<'rotated' | 'not-due' | 'failed'> {
    const { auditFile: base, audit } = this.config;
    try {
      const devices = await this.run((c) => ourAuditDevices(c));
      if (devices.length === 0) return 'not-due'; // configure enables it
      let active = devices[devices.length - 1]!;
      if (devices.length > 1) {
        // A switch was interrupted (vault-init stopped in the middle): finish it, towards the newer file.
        const target = switchTarget(base, audit.keepFiles, devices) ?? active;
        const settled = await this.run((c) => switchAuditDevice(c, target.filePath));
        this.warnUnlisted(settled);
        active = settled.device;
      }
      const size = await this.size(active.filePath);
      const age = (Date.now() - this.since) / 1000;
      const bySize = size !== undefined && size >= audit.rotateBytes;
      const byAge = audit.rotateAgeSeconds > 0 && age >= audit.rotateAgeSeconds;
      if (!bySize && !byAge) {
        // A file vault-init cannot see is a problem that goes on: only a look that saw it ends the report.
        if (size !== undefined) this.recovered();
        return 'not-due';
      }
      const rotation = await this.run((c) => rotateAuditFile(c, base, audit.keepFiles));
      auditLogRotations.inc();
      this.warnUnlisted(rotation);
      this.since = Date.now();
      this.logger.info('audit log rotated', {
        from: active.filePath,
        to: rotation.device.filePath,
        device: rotation.device.path,
        reason: bySize ? `size ${size} >= ${audit.rotateBytes} bytes` : `age ${Math.round(age)} s`,
        ...(rotation.emptied ? {} : { note: 'the next file could not be emptied (mode 0600): Vault appends to it' }),
      });
      if (size !== undefined) this.recovered();
      return 'rotated';
    } catch (err) {
      if (isStopping()) return 'not-due'; // vault-init is stopping: nothing to report
      this.report(`audit log rotation failed: ${(err as Error).message}`, err);
      return 'failed';
    }
  }

  /** Bytes in `file` as vault-init sees it; undefined when it cannot see it (rotation by size is then off). */
  private async size(file: string): Promise<number | undefined> {
    try {
      return (await fs.stat(file)).size;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Nothing written yet, when the directory is there; else vault-init does not see Vault's files at all.
      if (code === 'ENOENT' && (await fs.stat(path.dirname(file)).catch(() => undefined))?.isDirectory()) return 0;
      this.report(
        `cannot see the audit log ${file} (${code ?? (err as Error).message}): rotation by size is off until it can. ` +
          'Mount the directory of VAULT_AUDIT_FILE into vault-init at the same path (compose: the vault-logs volume at ' +
          '/vault/logs). Where it cannot be shared (each Kubernetes Vault pod has its own file system), set ' +
          'VAULT_AUDIT_FILE=stdout: Vault writes the log to its standard output and the container runtime rotates it.',
      );
      return undefined;
    }
  }

  /** Says once per path what Vault holds unlisted: rotations run into the same device until Vault restarts. */
  private warnUnlisted(done: AuditSwitch): void {
    const fresh = done.unlistedPaths.filter((p) => !this.reportedUnlisted.has(p));
    const warning = unlistedDevicesWarning(fresh, done.device.path);
    if (!warning) return;
    for (const p of fresh) this.reportedUnlisted.add(p);
    this.logger.warn(warning);
  }

  private report(message: string, err?: unknown): void {
    if (this.problem === message) return;
    this.problem = message;
    this.logger.error(message, err === undefined ? {} : { err });
  }

  private recovered(): void {
    if (this.problem === undefined) return;
    this.logger.info('audit log rotation works again', { previousProblem: this.problem });
    this.problem = undefined;
  }
}
