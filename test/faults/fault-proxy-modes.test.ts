// The fault proxy the fault stories rely on does what it says, on real sockets: in `pass` bytes flow, in
// `stall` nothing flows until `pass` (then the held bytes arrive), in `reset` open and new connections get
// an RST (ECONNRESET), and a side that gives up during a stall never has its held bytes delivered late.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FaultProxy } from '../support/fault-proxy.js';

let echo: net.Server;
let proxy: FaultProxy;
const received: string[] = [];

before(async () => {
  echo = net.createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      received.push(d.toString('utf8'));
      s.write(d);
    });
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  proxy = await FaultProxy.start('127.0.0.1', (echo.address() as net.AddressInfo).port);
});
after(async () => {
  await proxy.close();
  await new Promise<void>((r) => echo.close(() => r()));
});

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(proxy.port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** The next data on `s` within `ms`, or undefined; an error (RST) rejects. */
function nextData(s: net.Socket, ms: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      s.off('data', onData);
      s.off('error', onError);
      resolve(undefined);
    }, ms);
    const onData = (d: Buffer) => {
      clearTimeout(timer);
      s.off('error', onError);
      resolve(d.toString('utf8'));
    };
    const onError = (err: Error) => {
      clearTimeout(timer);
      s.off('data', onData);
      reject(err);
    };
    s.once('data', onData);
    s.once('error', onError);
  });
}

test('pass: bytes flow both ways', async () => {
  const s = await connect();
  s.write('hello');
  assert.equal(await nextData(s, 2000), 'hello');
  s.destroy();
});

test('stall: nothing flows; back to pass, the held bytes arrive', async () => {
  const s = await connect();
  s.write('one');
  assert.equal(await nextData(s, 2000), 'one');
  proxy.setMode('stall');
  s.write('two');
  assert.equal(await nextData(s, 300), undefined);
  proxy.setMode('pass');
  assert.equal(await nextData(s, 2000), 'two');
  s.destroy();
});

test('stall: a client that gives up never has its held bytes delivered', async () => {
  proxy.setMode('stall');
  const s = await connect();
  s.write('abandoned');
  await new Promise((r) => setTimeout(r, 200));
  s.destroy();
  await new Promise((r) => setTimeout(r, 100));
  proxy.setMode('pass');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(!received.includes('abandoned'), `delivered late: ${JSON.stringify(received)}`);
});

test('reset: open connections and new ones get ECONNRESET', async () => {
  proxy.setMode('pass');
  const s = await connect();
  s.write('x');
  assert.equal(await nextData(s, 2000), 'x');
  proxy.setMode('reset');
  await assert.rejects(nextData(s, 2000), /ECONNRESET/);
  const t = await connect().catch((err: Error) => err);
  if (t instanceof net.Socket) await assert.rejects(nextData(t, 2000), /ECONNRESET/);
  else assert.match(t.message, /ECONNRESET/);
  proxy.setMode('pass');
  const u = await connect();
  u.write('back');
  assert.equal(await nextData(u, 2000), 'back');
  u.destroy();
});
