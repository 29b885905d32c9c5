// User story: as an operator of the chart, when the Kubernetes API server stalls (it accepts vault-init's
// connection and never answers: a wedged or overloaded API server, a broken proxy on the way), vault-init does not
// hang until the kubelet kills it. Every call of its init store, the read, the dry run before sys/init and the
// write after it, gives up after its deadline and says which Secret, what it tried, that the API did not answer
// in time and what to check: exit code 3, or 4 once Vault is initialized and the keys are at stake, where a write
// that got no answer is told apart from one that was never sent.
//
// The API addresses are real TCP servers of this process, faults rather than a Kubernetes: one never answers, one
// answers every read "404" and nothing else (so that the store goes on to its dry run and its write), and one port
// refuses connections. @kubernetes/client-node needs Node >= 22 and the suite may run on Node 20: the store runs in
// a child process on the Node of the production images (scripts/ensure-production-node.sh, which `make test`'s
// dependencies step runs too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { freePort, repoRoot, TSX_NODE_ARGS } from '@aurora/process';
import { EXIT } from '@aurora/vault-init/errors';

/** Past the deadline, how late a call may end on two busy cores (a timer, an abort, one event loop turn). */
const LATE_MS = 10_000;
/** The store's per-call deadline here: its production value (35 s) shortened, so that the story takes seconds. */
const DEADLINE_MS = 3_000;
const SECONDS = `${DEADLINE_MS / 1000} s`;
const SECRET = 'Kubernetes Secret aurora/aurora-secrets-vault-init \\(key init\\.json\\)';
const CHECK = 'check that the API server is up and that this pod can reach it';

interface Result {
  call: string;
  ms: number;
  name: string;
  exitCode?: number;
  message: string;
}

/** A Node >= 22 for the child: this one if it is, else the production images' Node, fetched once. */
function nodeForTheStore(): string {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  return execFileSync(path.join(repoRoot(), 'scripts/ensure-production-node.sh'), { encoding: 'utf8' }).trim();
}

async function listen(server: net.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** Runs the child to its end, or kills it when it outlives `limitMs` (then `hung` is true). */
function runChild(
  node: string,
  args: string[],
  limitMs: number,
): Promise<{ status: number | null; stdout: string; stderr: string; hung: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(node, args, { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let hung = false;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, hung });
    });
  });
}

test(
  'every call of the Kubernetes init store gives up on a silent API server at its deadline, saying what to check',
  { timeout: 180_000 },
  async () => {
    const node = nodeForTheStore();

    // Accepts, reads what it is sent, never answers.
    const heads: string[] = [];
    const silent = net.createServer((socket) => {
      socket.on('data', (chunk) => heads.push(chunk.toString('latin1')));
      socket.on('error', () => {});
    });
    // "404" to every read, as when the Secret does not exist yet; anything else is never answered.
    const unanswered: string[] = [];
    const readsOnly = http.createServer((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
      } else {
        unanswered.push(`${req.method} ${req.url}`);
        req.resume();
      }
    });
    try {
      const servers = [await listen(silent), await listen(readsOnly), `http://127.0.0.1:${await freePort()}`];
      const script = path.join(repoRoot(), 'test/support/kubernetes-store-client.ts');
      const run = await runChild(node, [...TSX_NODE_ARGS, script, ...servers, String(DEADLINE_MS)], 120_000);
      assert.ok(
        !run.hung,
        `the store was still waiting after 120 s: the deadline did not end its calls\n${run.stderr}`,
      );
      assert.equal(run.status, 0, `the child failed: ${run.stderr}${run.stdout}`);
      const results = new Map(
        run.stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as Result)
          .map((r) => [r.call, r]),
      );
      assert.equal(results.size, 7, run.stdout);

      const expected: Array<[string, number, RegExp]> = [
        ['exists, silent API', EXIT.unreachable, new RegExp(`^cannot read ${SECRET}: the Kubernetes API at `)],
        ['read, silent API', EXIT.unreachable, new RegExp(`^cannot read ${SECRET}: `)],
        ['preflight, silent API', EXIT.unreachable, new RegExp(`^cannot read ${SECRET}: `)],
        // The read before the write got no answer: nothing was sent, so the keys are surely not in the Secret.
        [
          'write, silent API',
          EXIT.initMaterial,
          new RegExp(
            `^Vault was just initialized but its keys could not be saved: cannot read ${SECRET}: .*They exist`,
          ),
        ],
        ['preflight, writes unanswered', EXIT.unreachable, new RegExp(`^cannot write \\(dry run\\) a new ${SECRET}: `)],
        // The create itself got no answer: the API server may have stored it, and the message says how to tell.
        [
          'write, writes unanswered',
          EXIT.initMaterial,
          new RegExp(
            `^Vault was just initialized but its keys may not have been saved: cannot write ${SECRET}: .*` +
              'if `kubectl -n aurora get secret aurora-secrets-vault-init` shows key init.json, nothing is lost',
          ),
        ],
      ];
      for (const [call, exitCode, message] of expected) {
        const r = results.get(call)!;
        assert.equal(r.exitCode, exitCode, `${call}: ${r.name} ${r.message}`);
        assert.match(r.message, message, call);
        assert.match(
          r.message,
          new RegExp(`the Kubernetes API at http://127\\.0\\.0\\.1:\\d+ did not answer within ${SECONDS}; ${CHECK}`),
          call,
        );
        assert.ok(r.ms >= DEADLINE_MS - 100, `${call} gave up after ${r.ms} ms, before its deadline`);
        assert.ok(r.ms <= DEADLINE_MS + LATE_MS, `${call} gave up only after ${r.ms} ms`);
      }

      // A refused connection needs no deadline: it is named at once, with its cause.
      const refused = results.get('exists, connection refused')!;
      assert.equal(refused.exitCode, EXIT.unreachable, refused.message);
      assert.match(
        refused.message,
        new RegExp(
          `^cannot read ${SECRET}: the Kubernetes API at \\S+ is unreachable \\(fetch failed: .*ECONNREFUSED.*\\); ${CHECK}`,
        ),
      );
      assert.ok(refused.ms < LATE_MS, `a refused connection took ${refused.ms} ms`);

      for (const r of results.values())
        assert.doesNotMatch(r.message, /never-printed/, `${r.call} quotes init material`);
      // The calls did reach the servers, with the client's own User-Agent: the deadline's middleware is added to the
      // client's, not put in its place.
      const read = heads.find((h) => h.startsWith('GET /api/v1/namespaces/aurora/secrets/aurora-secrets-vault-init '));
      assert.ok(read, `the silent server saw no read of the Secret: ${JSON.stringify(heads)}`);
      assert.match(read, /\r\nuser-agent: kubernetes-client-javascript\//i);
      assert.deepEqual(unanswered.sort(), [
        'POST /api/v1/namespaces/aurora/secrets',
        'POST /api/v1/namespaces/aurora/secrets?dryRun=All',
      ]);
    } finally {
      readsOnly.closeAllConnections();
      readsOnly.close();
      silent.close();
    }
  },
);
