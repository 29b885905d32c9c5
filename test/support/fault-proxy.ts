/**
 * A TCP fault proxy: real sockets on loopback, in front of a real Vault or PostgreSQL (never a stand-in for
 * them). Point the app at `proxy.port` instead of the server's port, then switch modes while it runs:
 *   - `pass`:  bytes flow both ways, as if the proxy were not there;
 *   - `stall`: nothing flows: what either side sends is held by the proxy (new connections are accepted and
 *              held the same way). Back to `pass`, the held bytes are delivered and the connections carry on,
 *              as after a healed partition. A side that gives up meanwhile (its timeout) closes its
 *              connection; the other half is then destroyed and what was held is dropped, never delivered
 *              late (the proxy keeps reading during a stall precisely to notice that close);
 *   - `reset`: every open connection is reset (RST), and every new one is reset as soon as it is accepted,
 *              as a firewall rejecting or a crashed peer would.
 * Independently of the mode, `slowAnswers(requestLine, ms)` holds the answer to every HTTP request whose request
 * line matches for `ms` after the request was sent: a server that takes that long to do the work (Vault unsealing
 * on a busy machine), not one that stopped answering.
 */
import net from 'node:net';

export type FaultMode = 'pass' | 'stall' | 'reset';

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  /** Bytes held during a stall, per direction. */
  toUpstream: Buffer[];
  toClient: Buffer[];
  /** The answer to the request in flight is held until then (ms since the epoch; 0: not held). */
  answerNotBefore: number;
  answerTimer?: NodeJS.Timeout;
}

export class FaultProxy {
  private modeNow: FaultMode = 'pass';
  private slow?: { requestLine: RegExp; ms: number };
  /** Requests whose answer was held by `slowAnswers`, since start. */
  slowed = 0;
  private readonly pairs = new Set<Pair>();
  /** Connections accepted, and connections reset by the proxy, since start (for reports). */
  readonly counts = { accepted: 0, reset: 0 };

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    readonly upstreamHost: string,
    readonly upstreamPort: number,
  ) {}

  /** Listens on a free loopback port, forwarding to `upstreamHost:upstreamPort`. */
  static async start(upstreamHost: string, upstreamPort: number): Promise<FaultProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new FaultProxy(server, (server.address() as net.AddressInfo).port, upstreamHost, upstreamPort);
    server.on('connection', (socket) => proxy.accept(socket));
    return proxy;
  }

  /** `http://127.0.0.1:<port>`, for VAULT_ADDR. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get mode(): FaultMode {
    return this.modeNow;
  }
  get open(): number {
    return this.pairs.size;
  }

  setMode(mode: FaultMode): void {
    this.modeNow = mode;
    for (const pair of [...this.pairs]) this.apply(pair);
  }

  /**
   * From now on the answer to each HTTP request whose request line (e.g. `POST /v1/sys/unseal HTTP/1.1`) matches
   * `requestLine` reaches the client `ms` after the request left it; `undefined` ends that.
   */
  slowAnswers(requestLine: RegExp | undefined, ms = 0): void {
    this.slow = requestLine ? { requestLine, ms } : undefined;
  }

  private apply(pair: Pair): void {
    if (this.modeNow === 'reset') {
      this.kill(pair);
    } else if (this.modeNow === 'pass') {
      this.flush(pair.toUpstream, pair.upstream);
      if (Date.now() >= pair.answerNotBefore) this.flush(pair.toClient, pair.client);
    }
  }

  private flush(held: Buffer[], to: net.Socket): void {
    while (held.length && !to.destroyed) to.write(held.shift() as Buffer);
  }

  private kill(pair: Pair): void {
    this.pairs.delete(pair);
    this.counts.reset++;
    for (const s of [pair.client, pair.upstream]) {
      if (s.destroyed) continue;
      // RST where the socket supports it (connected); a plain destroy otherwise.
      try {
        s.resetAndDestroy();
      } catch {
        s.destroy();
      }
    }
  }

  private accept(client: net.Socket): void {
    this.counts.accepted++;
    client.on('error', () => undefined);
    if (this.modeNow === 'reset') {
      this.counts.reset++;
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: this.upstreamHost, port: this.upstreamPort });
    upstream.on('error', () => undefined);
    const pair: Pair = { client, upstream, toUpstream: [], toClient: [], answerNotBefore: 0 };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const forward = (from: net.Socket, to: net.Socket, held: Buffer[]) => {
      from.on('data', (chunk: Buffer) => {
        if (from === client) this.noteRequest(pair, chunk);
        else if (Date.now() < pair.answerNotBefore) this.holdAnswer(pair);
        if (this.modeNow !== 'pass' || held.length || (from === upstream && Date.now() < pair.answerNotBefore)) {
          held.push(chunk);
          return;
        }
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
    };
    forward(client, upstream, pair.toUpstream);
    forward(upstream, client, pair.toClient);
    // One side gone: the other is destroyed at once (no late flush of held bytes).
    const close = () => {
      this.pairs.delete(pair);
      clearTimeout(pair.answerTimer);
      pair.toUpstream.length = 0;
      pair.toClient.length = 0;
      if (!client.destroyed) client.destroy();
      if (!upstream.destroyed) upstream.destroy();
    };
    client.once('close', close);
    upstream.once('close', close);
    client.once('end', close);
    upstream.once('end', close);
  }

  /** A request whose line matches the slow rule: its answer is held until `ms` from now. */
  private noteRequest(pair: Pair, chunk: Buffer): void {
    if (!this.slow) return;
    const line = chunk.toString('latin1', 0, Math.min(chunk.length, 512)).split('\r\n', 1)[0]!;
    if (!/^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(line) || !this.slow.requestLine.test(line)) return;
    pair.answerNotBefore = Date.now() + this.slow.ms;
    this.slowed++;
  }

  /** Delivers a held answer once its time has come (and the mode lets bytes flow). */
  private holdAnswer(pair: Pair): void {
    if (pair.answerTimer) return;
    pair.answerTimer = setTimeout(
      () => {
        pair.answerTimer = undefined;
        if (this.modeNow === 'pass' && !pair.client.destroyed) this.flush(pair.toClient, pair.client);
      },
      Math.max(0, pair.answerNotBefore - Date.now()),
    );
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    for (const pair of [...this.pairs]) {
      this.pairs.delete(pair);
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
