/**
 * What a process (and its children) cost, read from /proc: CPU time (utime + stime) and resident memory.
 * Linux only, which is where the bench runs.
 */
import fs from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function statOf(pid: number): { ppid: number; ticks: number; childTicks: number } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(fields[1]),
      ticks: Number(fields[11]) + Number(fields[12]),
      childTicks: Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds used so far by `pid` and, with `children`, by its direct children: the live ones, plus those
 * that exited and were waited for (cutime/cstime), so that a backend ending mid-cell is not subtracted.
 */
export function cpuSeconds(pid: number | undefined, children = false): number {
  if (!pid) return 0;
  const own = statOf(pid);
  let ticks = (own?.ticks ?? 0) + (children ? (own?.childTicks ?? 0) : 0);
  if (children) {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const s = statOf(Number(entry));
      if (s && s.ppid === pid) ticks += s.ticks;
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/** Resident set size in MB (VmRSS), or NaN when the process is gone. */
export function rssMb(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Samples the RSS of `pid` every `everyMs` until stopped; returns the maximum seen. */
export function sampleRss(pid: number | undefined, everyMs = 100): { stop(): number } {
  let max = rssMb(pid);
  const timer = setInterval(() => {
    const v = rssMb(pid);
    if (Number.isFinite(v) && !(v <= max)) max = v;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return max;
    },
  };
}
