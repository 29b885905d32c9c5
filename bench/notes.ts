/**
 * Why a target is missed, from profiling (bench/profile.ts over `node --cpu-prof`), the CPU each process
 * used during each cell, and the experiments bench/run.ts makes (audit device off, smaller V8 young
 * generation, bigger PostgreSQL pool). scripts/update-figures.ts prints the note of each missed
 * target next to the figures of bench/results/latest.json. Keyed by target id prefix (bench/targets.ts).
 * The notes name causes, not numbers: the numbers come from the results.
 */
export const NOTES: Record<string, string> = {
  'resolve-miss-p50':
    'with the cache off, one resolve is three round trips one after the other, where the raw read is one: ' +
    'PostgreSQL for the Client row (authentication reads it on every request), PostgreSQL again for the reference row ' +
    "(CACHE_TTL_SECONDS=0 also turns off the service's reference cache), then Vault; plus express routing, two HMAC-SHA256 " +
    'for the constant-time compare and a synchronous JSON audit line. At concurrency 1 nothing overlaps, so each adds to the p50. ' +
    'Keeping the reference cache when only value caching is off, and caching the authenticated Client identity for a ' +
    'second or two (both are invalidated by writes through the app already), would remove the two PostgreSQL round trips.',
  'resolve-miss-c':
    "with both cores busy, throughput is the inverse of the total CPU per request (the table's CPU column): a raw read costs " +
    "Vault's CPU only, a cache-miss resolve costs a Vault read plus the app's own work plus PostgreSQL's, and the app " +
    'spends about as much CPU per resolve as Vault spends per read, so the ratio lands near raw / (Vault + app + PostgreSQL). ' +
    "0.6 × leaves the app and PostgreSQL together about two thirds of Vault's CPU per read. The profile puts the app's time in " +
    'node-vault + axios (per-request config merging, interceptors and promise plumbing around one keep-alive HTTP call), pg ' +
    '(two queries per resolve: the Client row for authentication and the reference row, since CACHE_TTL_SECONDS=0 also turns ' +
    'off the reference cache), express, and the synchronous winston audit line. A plain keep-alive ' +
    'http.request for the KV read inside packages/common/vault-client.ts, a short cache of the authenticated Client identity, ' +
    'and keeping the reference cache when only value caching is off would remove most of it. The audit-device experiment ' +
    "above shows how much of Vault's own cost is its audit log.",
  'resolve-miss-cpu':
    'the CPU column of the cache-miss rows, per process: what the app and PostgreSQL spend per resolve on top of the Vault ' +
    'read; the profile below names where the app spends it.',
  'resolve-hit':
    'a cache hit still authenticates: a PostgreSQL read of the Client row and two HMAC-SHA256 per request, then express and a ' +
    'synchronous JSON audit line; the raw read has no such work. Caching the authenticated identity briefly would remove ' +
    'the PostgreSQL round trip.',
  'write-c':
    'a credential write is a PostgreSQL transaction around the Vault write (BEGIN + advisory lock and row read, the Vault write, ' +
    'the upsert, COMMIT: four PostgreSQL round trips on one pooled connection held across the Vault write, plus the Client-row ' +
    'read for authentication), where the raw write is one request. That order and the lock are what make a write safe against a ' +
    'crash at any step (the fault suites check it: kill -9 of the app leaves orphans that doctor --repair removes, nothing ' +
    'acknowledged is lost) and what let doctor run concurrently. At concurrency 1 the round trips add up; at 8 and 32 the ' +
    'cores are busy and the CPU column tells the rest: per write the app and PostgreSQL together spend about as much CPU as ' +
    "Vault, which halves the ratio before any waiting. The write profile puts the app's own time " +
    'in pg and node-vault/axios (socket writes per query and per request) and express. The PG_POOL_SIZE=40 experiment above ' +
    'shows how much of the gap is the pool of 10 (each write holds a connection across its Vault write); the rest is the work per write.',
  'resolver-in-process':
    'the lookup is a Map get plus an LRU re-insert; if this is missed the machine was busy while it ran (it runs alone, in the bench process).',
  'vault-init':
    'the time is in the configure step (mounts, policies, AppRoles, audit device, operator token: each read and compared, ' +
    'written only when different); see freshSteps/restartSteps in bench/results/latest.json.',
  're-unseal':
    'vault-init notices a restart on its next seal-status check (VAULT_WATCH_INTERVAL_MS, 1 s by default; 200 ms after a ' +
    'failed check), then submits the threshold of keys and reconfigures.',
  'app-rss':
    'the idle app is already large (Node itself, express, pg, winston, node-vault with axios and its dependencies); under load ' +
    'V8 grows its young generation (semi-spaces up to 16 MB each on 64-bit Node 20). The semi-space experiment above runs ' +
    "the same load with NODE_OPTIONS=--max-semi-space-size=4: that setting in the app's container is the cheapest fix, " +
    'at the cost of more frequent scavenges.',
};
