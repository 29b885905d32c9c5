/**
 * Why a target is missed, from profiling (bench/profile.ts over `node --cpu-prof`), the CPU each process
 * used during each cell, and the experiments bench/run.ts makes (audit device off, smaller V8 young
 * generation, bigger PostgreSQL pool). scripts/update-figures.ts prints the note of each missed
 * target next to the figures of bench/results/latest.json. Keyed by target id prefix (bench/targets.ts).
 * The notes name causes, not numbers: the numbers come from the results.
 */
export const NOTES: Record<string, string> = {
  'resolve-miss-p50':
    'with the value cache off, one resolve is still two hops one after the other where the raw read is one: the HTTP ' +
    "request into the app (express routing, Basic authentication's one keyed digest, the Client and the reference both " +
    'from their caches) and then the Vault read on a keep-alive connection; at concurrency 1 nothing overlaps, so the ' +
    "app's own work adds to the p50 in full. The profile below names that work.",
  'resolve-miss-c':
    "with both cores busy, throughput is the inverse of the total CPU per request (the table's CPU column): a raw read costs " +
    "Vault's CPU only, a cache-miss resolve costs a Vault read plus the app's own work, so the ratio lands near " +
    "raw / (Vault + app + PostgreSQL). 0.6 × leaves the app about two thirds of Vault's CPU per read. Authentication no " +
    'longer reads PostgreSQL (the Client is reused for CLIENT_CACHE_TTL_SECONDS) nor does the reference lookup ' +
    '(REFERENCE_CACHE_TTL_SECONDS), node-vault sends through a plain http.request instead of axios, and requests no longer ' +
    'get a hidden class of their own from express (http/server.ts); what the profile ' +
    "still shows is Node's own HTTP server and client (parsing, socket writes), express's routing and response helpers, " +
    "and the garbage collector. The audit-device experiment above shows how much of Vault's own cost is its audit log.",
  'resolve-miss-cpu':
    'the CPU column of the cache-miss rows, per process: what the app and PostgreSQL spend per resolve on top of the Vault ' +
    'read; the profile below names where the app spends it. The row of a bare node:http proxy to the same reads, where ' +
    'the run measured one, is what any Node process in front of Vault spends here: a target at or below its CPU leaves ' +
    "nothing for the app's own work.",
  'resolve-hit':
    'a cache hit still answers an HTTP request through express, authenticates (one HMAC-SHA256 of the presented secret ' +
    'for the constant-time compare, the Client from its cache) and writes a JSON audit line after the answer; the raw ' +
    'read has only its own work.',
  'write-c':
    'a credential write is a PostgreSQL transaction around the Vault write (BEGIN with the advisory locks and the row read ' +
    'in one round trip, the Vault write, the upsert, COMMIT: three PostgreSQL round trips on one pooled connection held ' +
    'across the Vault write), where the raw write is one request. The upsert and COMMIT stay apart on purpose: a COMMIT ' +
    'sent with the upsert would commit the row even when the app is killed before it decided to, and a crash between the ' +
    'Vault write and the row must leave at most an orphan doctor can see (the fault suites and credentials-consistency ' +
    'check it). At 8 and 32 the cores are busy and the CPU column tells the rest: per write the app and PostgreSQL ' +
    "together spend a large part of Vault's CPU. The write profile puts the app's own time in pg (socket writes per " +
    "query), Node's HTTP client and server, and express. The PG_POOL_SIZE=40 experiment above shows how much of the gap is " +
    'the pool of 10 (each write holds a connection across its Vault write); the rest is the work per write.',
  'resolver-in-process':
    'the lookup is a Map get plus an LRU re-insert; if this is missed the machine was busy while it ran (it runs alone, in the bench process).',
  'vault-init':
    'the time is in the configure step (mounts, policies, AppRoles, audit device, operator token: each read and compared, ' +
    'written only when different); see freshSteps/restartSteps in bench/results/latest.json.',
  're-unseal':
    'vault-init notices a restart on its next seal-status check (VAULT_WATCH_INTERVAL_MS, 1 s by default; 200 ms after a ' +
    'failed check), then submits the threshold of keys and reconfigures.',
  'app-rss':
    'the idle app is Node itself, express, pg, winston and node-vault (the FHIR R4 definitions are loaded only by the first ' +
    'Patient or Client write); under load V8 grows its young generation and lets the old one grow before collecting it. ' +
    'The app runs with heap flags that bound both (APP_NODE_FLAGS: packages/common/src/app-heap.ts); the V8 heap ' +
    'defaults experiment above runs the same load without them: the RSS they save against the throughput they cost.',
};
