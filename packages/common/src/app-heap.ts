/**
 * The V8 heap sizing the app runs with, on every stack: the node flags each launcher puts before the app's main
 * script. The launchers written in TypeScript (`make native`, the test and bench harness) take them from here; the
 * ones that cannot import it (the app's Dockerfile CMD, the Helm chart's app command, the Kubernetes image built by
 * scripts/k8s/images.sh, `npm start`) spell them out, and test/unit/app-heap-flags-agree.test.ts holds them to
 * this list.
 *
 * Why: with V8's defaults the app's RSS under the bench load peaked at 130-163 MB, for a live heap of 20-30 MB. The
 * rest was heap V8 had grown into and not yet collected: the young generation at two 16 MB semi-spaces, and an old
 * generation allowed to reach about twice its live size before the next full collection. Measured against the
 * defaults on the same loads (docs/performance.md has the figures; `make bench` repeats the comparison in every run):
 * at most 99-104 MB instead of 130-163 MB (Node 20, with 8 MB semi-spaces); cache-hit resolves at concurrency 32
 * 1,522-1,669 req/s against 1,652-1,835 with the defaults, cache-miss resolves at 8 within the defaults' own spread.
 *  - `--max-semi-space-size=4`: each of the young generation's two semi-spaces stays at or under 4 MB (V8 grows
 *    them up to 16 MB by default on 64-bit). Scavenges come more often; each one has as much to copy, since what
 *    survives is what requests in flight hold. Measured on Node 24 (the images' Node) against 8 MB, alternating on
 *    one stack (2026-12-01): RSS under the cache-miss, cache-hit and write loads 4-8 MB lower (105 against 112-114 MB
 *    under cache-miss resolves, 116-117 against 120-121 MB under writes, where 8 MB crossed 120 MB), CPU per cache-miss
 *    resolve and per write within the spread of either. On Node 20, while every request still gave V8 new hidden
 *    classes to allocate, 4 MB had cost 5-20 % of the cache-hit throughput; 8 was the setting then.
 *  - `--heap-growing-percent=50`: after a full collection, the old generation may grow by half of what survived
 *    before the next one starts (V8's flag: "heap growing factor as (1 + heap_growing_percent/100)"; without it, V8
 *    picks a factor between 1.1 and 4 from its estimate of how fast the program allocates and collects). On its own
 *    it took the peak to 116-121 MB; with the smaller semi-spaces, to 100-104 MB.
 * Both flags are accepted on the command line by the Node.js of the images (24) and of `make native` (20); an
 * unknown flag stops node at start with "bad option", so a Node.js that dropped one would fail loudly, not silently.
 * `--heap-growing-percent` is not allowed in NODE_OPTIONS, which is why these are arguments, not environment.
 */
export const APP_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=50'];
