/** What `doctor --json` reports, as the operations scripts read it (scripts/doctor.sh prints it). */
import { BackupError } from './archive.js';

export interface DoctorResult {
  dangling: number;
  orphans: number;
  damaged: number;
  remaining: number;
  /** Dangling rows whose secret Vault can still give back (undelete / rollback): repair leaves them alone. */
  recoverable: number;
  /** Rows recording another version than Vault's current one (repair records Vault's). */
  mismatched: number;
}

/** Parses `doctor --json` output. */
export function parseDoctor(stdout: string): DoctorResult {
  const line = stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.trim().startsWith('{'));
  if (!line) throw new BackupError(`doctor printed no JSON report: ${stdout.slice(0, 500)}`);
  const r = JSON.parse(line) as Partial<DoctorResult>;
  return {
    dangling: Number(r.dangling ?? NaN),
    orphans: Number(r.orphans ?? NaN),
    damaged: Number(r.damaged ?? NaN),
    remaining: Number(r.remaining ?? NaN),
    recoverable: Number(r.recoverable ?? 0),
    mismatched: Number(r.mismatched ?? 0),
  };
}
