/**
 * A V8 .cpuprofile (node --cpu-prof) reduced to where the time went: self time by area (our code, express,
 * pg, node-vault/axios, the logger, Node's own http/net/streams, GC, idle) and the heaviest functions.
 */
import type { ProfileSummary } from './targets.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

const AREAS: Array<[string, RegExp]> = [
  [
    'logging (winston)',
    /node_modules\/(winston|logform|triple-beam|@colors|colors|safe-stable-stringify|fecha|one-time|readable-stream|@dabh)/,
  ],
  [
    'node-vault + axios',
    /node_modules\/(node-vault|axios|follow-redirects|form-data|proxy-from-env|mustache|tv4|postman-request|combined-stream|mime-)/,
  ],
  ['pg', /node_modules\/(pg|pg-protocol|pg-pool|pg-types|pgpass|postgres-)/],
  [
    'express',
    /node_modules\/(express|router|body-parser|raw-body|iconv-lite|content-type|type-is|mime-types|on-finished|finalhandler|send|path-to-regexp|qs|debug|depd|accepts|negotiator|cookie|statuses|http-errors|encodeurl|escape-html|etag|fresh|parseurl|proxy-addr|range-parser|vary|merge-descriptors|media-typer|setprototypeof)/,
  ],
  ['aurora common', /packages\/common\//],
  ['aurora app', /services\/app\//],
  ['other dependencies', /node_modules\//],
  ['node core, not called from a package (HTTP parsing, timers)', /^node:/],
];

function areaOf(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)') return 'V8/native (program)';
  for (const [name, re] of AREAS) if (re.test(url)) return name;
  return url === '' ? 'V8/native (builtins)' : 'other';
}

export function summarizeProfile(profile: CpuProfile, cell: string): ProfileSummary {
  // Native code and Node's core (a socket writev, a string encode, a stream write) are charged to the package
  // whose code called them: the first ancestor outside node: and native decides the area ("writev" under
  // winston's Console transport is logging, under res.end it is express). Work no package started (the
  // HTTP parser on socket reads, timers) stays with Node's core.
  const parent = new Map<number, ProfileNode>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes)
    for (const c of n.children ?? []) {
      const child = byId.get(c);
      if (child) parent.set(child.id, n);
    }
  const isCore = (n: ProfileNode) => n.callFrame.url === '' || n.callFrame.url.startsWith('node:');
  const caller = (node: ProfileNode): ProfileNode | undefined => {
    for (let p = parent.get(node.id); p; p = parent.get(p.id)) if (!isCore(p)) return p;
    return undefined;
  };
  const areaWithCaller = (node: ProfileNode): string => {
    const own = areaOf(node);
    if (!isCore(node) || own === 'idle' || own === 'garbage collection' || own === 'V8/native (program)') return own;
    const c = caller(node);
    return c ? areaOf(c) : own;
  };
  const total = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
  const idle = profile.nodes
    .filter((n) => n.callFrame.functionName === '(idle)')
    .reduce((a, n) => a + (n.hitCount ?? 0), 0);
  const busy = Math.max(1, total - idle);
  const areas: Record<string, number> = {};
  const fns = new Map<string, { name: string; where: string; hits: number }>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (!hits) continue;
    const area = areaWithCaller(node);
    if (area === 'idle') continue;
    areas[area] = (areas[area] ?? 0) + hits;
    const short = (n: ProfileNode) =>
      `${n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(services|packages)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
    const via = isCore(node) ? caller(node) : undefined;
    const where = via
      ? `native, called from ${via.callFrame.functionName || '(anonymous)'} ${short(via)}`
      : short(node);
    const key = `${node.callFrame.functionName}@${where}`;
    const f = fns.get(key) ?? { name: node.callFrame.functionName || '(anonymous)', where, hits: 0 };
    f.hits += hits;
    fns.set(key, f);
  }
  const pct = (h: number) => Math.round((h / busy) * 1000) / 10;
  return {
    cell,
    totalMs: Math.round((profile.endTime - profile.startTime) / 1000),
    areas: Object.fromEntries(
      Object.entries(areas)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, pct(v)]),
    ),
    topFunctions: [...fns.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, 12)
      .map((f) => ({ name: f.name, where: f.where, selfPct: pct(f.hits) })),
  };
}
