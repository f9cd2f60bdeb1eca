// The delivery-target guard: only public unicast addresses are called (unless private
// targets are allowed), every address a name resolves to is checked, and a refusal tells
// the caller neither what a name resolved to nor whether it resolved at all.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import {
  checkLiteralHost,
  isPublicAddress,
  makeGuardedLookup,
  TARGET_NAME_NOT_ALLOWED,
  TARGET_NOT_ALLOWED,
  TargetRefusedError,
} from '../src/delivery/target-guard.js';
import { eventually, startReceiver, startServer, type Receiver, type TestServer } from './helpers.js';

/** Every special range, by an address at its start, inside and at its end where the edge matters. */
const REFUSED: Record<string, string[]> = {
  'this network 0/8': ['0.0.0.0', '0.1.2.3', '0.255.255.255'],
  'private 10/8': ['10.0.0.1', '10.255.255.255'],
  'CGNAT 100.64/10': ['100.64.0.0', '100.100.100.100', '100.127.255.255'],
  'loopback 127/8': ['127.0.0.1', '127.255.255.254'],
  'link-local 169.254/16': ['169.254.169.254', '169.254.0.1'],
  'private 172.16/12': ['172.16.0.1', '172.31.255.255'],
  'IETF protocol assignments 192.0.0/24': ['192.0.0.1', '192.0.0.170'],
  'TEST-NET-1 192.0.2/24': ['192.0.2.1'],
  '6to4 relay anycast 192.88.99/24': ['192.88.99.1'],
  'private 192.168/16': ['192.168.1.1'],
  'benchmarking 198.18/15': ['198.18.0.1', '198.19.255.255'],
  'TEST-NET-2 198.51.100/24': ['198.51.100.7'],
  'TEST-NET-3 203.0.113/24': ['203.0.113.9'],
  'multicast 224/4': ['224.0.0.1', '239.255.255.250'],
  'reserved 240/4': ['240.0.0.1', '250.1.2.3'],
  'broadcast': ['255.255.255.255'],
  'unspecified ::': ['::'],
  'loopback ::1': ['::1'],
  'IPv4-mapped private': ['::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::ffff:0.0.0.0'],
  'IPv4-compatible': ['::127.0.0.1', '::7f00:1', '::8.8.8.8', '::a00:1'],
  'SIIT ::ffff:0:0/96': ['::ffff:0:7f00:1', '::ffff:0:808:808'],
  'NAT64 64:ff9b::/96': ['64:ff9b::7f00:1', '64:ff9b::127.0.0.1', '64:ff9b::8.8.8.8'],
  'local NAT64 64:ff9b:1::/48': ['64:ff9b:1::7f00:1', '64:ff9b:1::808:808'],
  'discard 100::/64': ['100::1'],
  'Teredo 2001::/32': ['2001:0000:4136:e378:8000:63bf:3fff:fdd2', '2001::1'],
  'benchmarking 2001:2::/48': ['2001:2::1'],
  'ORCHID 2001:10::/28 and 2001:20::/28': ['2001:10::1', '2001:20::1'],
  'documentation 2001:db8::/32': ['2001:db8::1', '2001:db8:ffff::1'],
  '6to4 2002::/16': ['2002:7f00:1::', '2002:0a00:0001::1', '2002:808:808::1'],
  'documentation 3fff::/20': ['3fff::1'],
  'segment routing 5f00::/16': ['5f00::1'],
  'outside global unicast 2000::/3': ['4000::1', '1::1', 'e000::1'],
  'unique local fc00::/7': ['fc00::1', 'fd12:3456::1'],
  'link-local fe80::/10': ['fe80::1', 'febf::1', 'fe80::1%lo'],
  'site-local fec0::/10': ['fec0::1'],
  'multicast ff00::/8': ['ff02::1', 'ff05::1:3', 'ff0e::1'],
  'not an address': ['localhost', '', '127.1', '0x7f000001', '2130706433', '1.2.3', '::ffff:1.2.3'],
};

const ALLOWED = [
  '8.8.8.8',
  '1.1.1.1',
  '100.63.255.255', // just below CGNAT
  '100.128.0.0', // just above it
  '172.15.255.255',
  '172.32.0.0',
  '198.17.255.255',
  '198.20.0.0',
  '223.255.255.254',
  '2606:4700:4700::1111',
  '2a00:1450:4001:80b::200e',
  '::ffff:8.8.8.8', // IPv4-mapped: judged as the IPv4 address it is
];

describe('target guard: address classes', () => {
  for (const [range, addresses] of Object.entries(REFUSED)) {
    it(`refuses ${range}`, () => {
      for (const a of addresses) assert.equal(isPublicAddress(a), false, a);
    });
  }
  it('allows public unicast of both families', () => {
    for (const a of ALLOWED) assert.equal(isPublicAddress(a), true, a);
  });
});

describe('target guard: name resolution', () => {
  /** A guarded lookup over fixed answers, as the system resolver would give them. */
  function lookupWith(answers: LookupAddress[] | NodeJS.ErrnoException) {
    return (options: { all?: boolean } = {}) =>
      new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }>((resolve) => {
        const lookup = makeGuardedLookup((_host, _opts, cb) =>
          setImmediate(() => (answers instanceof Error ? cb(answers, []) : cb(null, answers))),
        );
        lookup('svc.example', options, (err, address, family) => resolve({ err, address, family }));
      });
  }
  const v4 = (address: string): LookupAddress => ({ address, family: 4 });
  const v6 = (address: string): LookupAddress => ({ address, family: 6 });

  it('refuses a name whose answers mix public and private addresses, wherever the private one is', async () => {
    for (const answers of [
      [v4('8.8.8.8'), v4('10.0.0.5')],
      [v4('127.0.0.1'), v4('8.8.8.8')],
      [v6('2606:4700:4700::1111'), v6('::127.0.0.1')],
      [v4('1.1.1.1'), v6('fd00::1')],
      [v4('1.1.1.1'), v6('64:ff9b::a9fe:a9fe')],
    ]) {
      for (const all of [false, true]) {
        const r = await lookupWith(answers)({ all });
        assert.ok(r.err, JSON.stringify(answers));
        assert.equal(r.err.message, TARGET_NAME_NOT_ALLOWED);
        for (const a of answers) assert.ok(!r.err.message.includes(a.address), 'the refusal does not show the address');
      }
    }
  });

  it('passes a name whose every answer is public, all of them or the first', async () => {
    const answers = [v4('8.8.8.8'), v6('2606:4700:4700::1111')];
    assert.deepEqual(await lookupWith(answers)({ all: true }), { err: null, address: answers, family: undefined });
    assert.deepEqual(await lookupWith(answers)({}), { err: null, address: '8.8.8.8', family: 4 });
  });

  it('answers a name that does not resolve as it answers one that resolves to a private address', async () => {
    for (const code of ['ENOTFOUND', 'EAI_AGAIN', 'ESERVFAIL']) {
      const err = Object.assign(new Error(`getaddrinfo ${code} internal-db.corp`), { code, hostname: 'internal-db.corp' });
      const r = await lookupWith(err)();
      assert.equal(r.err?.message, TARGET_NAME_NOT_ALLOWED, code);
    }
    assert.equal((await lookupWith([])()).err?.message, TARGET_NAME_NOT_ALLOWED, 'no answer at all');
  });
});

describe('target guard: what a caller reads', () => {
  let server: TestServer;
  let receiver: Receiver;
  let port: string;

  before(async () => {
    server = await startServer({ HOOKWELL_ALLOW_PRIVATE_TARGETS: 'false', HOOKWELL_RETRY_SCHEDULE: '0' });
    receiver = await startReceiver();
    port = new URL(receiver.url).port;
    assert.equal((await server.api('POST', '/api/v1/app', { name: 'guard', uid: 'guard' })).status, 201);
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  /** The response recorded for the one attempt of a message to `url`. */
  async function attemptTo(url: string): Promise<string> {
    // An application per target, so each message goes to that one endpoint only.
    const uid = `guard-${Math.random().toString(36).slice(2)}`;
    assert.equal((await server.api('POST', '/api/v1/app', { name: uid, uid })).status, 201);
    const ep = await server.api('POST', `/api/v1/app/${uid}/endpoint`, { url });
    assert.equal(ep.status, 201, ep.text);
    const msg = await server.api('POST', `/api/v1/app/${uid}/msg`, { eventType: 'test.event', payload: { a: 1 } });
    assert.equal(msg.status, 202, msg.text);
    const [a] = await eventually(async () => {
      const l = (await server.api('GET', `/api/v1/app/${uid}/attempt/msg/${msg.body.id}`)).body.data as any[];
      return l.length >= 1 ? l : undefined;
    }, 10_000, `an attempt to ${url}`);
    assert.equal(a.responseStatusCode, 0);
    return a.response as string;
  }

  it('refuses IPv4-compatible and other embedded-IPv4 literals without connecting', async () => {
    for (const host of ['[::127.0.0.1]', '[::ffff:127.0.0.1]', '[64:ff9b::7f00:1]', '[2002:7f00:1::]', '127.0.0.1', '[::1]']) {
      assert.equal(await attemptTo(`http://${host}:${port}/x`), TARGET_NOT_ALLOWED, host);
    }
    assert.equal(receiver.received.length, 0, 'nothing reached the loopback receiver');
  });

  it('does not say what a refused name resolved to, nor whether it resolved', async () => {
    const resolvesPrivate = await attemptTo(`http://localhost:${port}/x`);
    const resolvesNot = await attemptTo(`http://no-such-host.invalid:${port}/x`);
    assert.equal(resolvesPrivate, TARGET_NAME_NOT_ALLOWED);
    assert.equal(resolvesNot, TARGET_NAME_NOT_ALLOWED);
    for (const leak of ['127.0.0.1', '::1', 'localhost', 'ENOTFOUND', 'resolves to']) assert.ok(!resolvesPrivate.includes(leak), leak);
    assert.equal(receiver.received.length, 0);
  });

  it('says the same in the ping check and in a verified create, and keeps nothing of the refused URL', async () => {
    const ep = await server.api('POST', '/api/v1/app/guard/endpoint', { url: `http://localhost:${port}/ping` });
    const ping = await server.api('POST', `/api/v1/app/guard/endpoint/${ep.body.id}/ping`);
    assert.equal(ping.status, 200, ping.text);
    assert.equal(ping.body.ok, false);
    assert.equal(ping.body.detail, TARGET_NAME_NOT_ALLOWED);

    const literal = await server.api('POST', '/api/v1/app/guard/endpoint', { url: `http://[::127.0.0.1]:${port}/v`, verify: true });
    assert.equal(literal.status, 422, literal.text);
    assert.ok(literal.text.includes(TARGET_NOT_ALLOWED), literal.text);
    assert.ok(!literal.text.includes('7f00'), literal.text);

    const named = await server.api('POST', '/api/v1/app/guard/endpoint', { url: `http://localhost:${port}/v`, verify: true });
    assert.equal(named.status, 422, named.text);
    assert.ok(named.text.includes(TARGET_NAME_NOT_ALLOWED), named.text);
    assert.ok(!named.text.includes('127.0.0.1'), named.text);
    assert.equal(receiver.received.length, 0);
  });
});

describe('target guard: private targets allowed', () => {
  it('says only that a name could not be resolved', async () => {
    const server = await startServer({ HOOKWELL_ALLOW_PRIVATE_TARGETS: 'true', HOOKWELL_RETRY_SCHEDULE: '0' });
    try {
      assert.equal((await server.api('POST', '/api/v1/app', { name: 'open', uid: 'open' })).status, 201);
      const ep = await server.api('POST', '/api/v1/app/open/endpoint', { url: 'http://no-such-host.invalid/x' });
      const ping = await server.api('POST', `/api/v1/app/open/endpoint/${ep.body.id}/ping`);
      assert.equal(ping.body.ok, false);
      assert.equal(ping.body.detail, 'could not resolve the target host name');
    } finally {
      await server.stop();
    }
  });
});

describe('target guard: the refusal', () => {
  it('is a TargetRefusedError with its own code, saying only public addresses are called and naming the setting', async () => {
    assert.throws(() => checkLiteralHost(new URL('http://[::1]:8080/x')), (err: unknown) => {
      assert.ok(err instanceof TargetRefusedError);
      assert.equal(err.code, 'HOOKWELL_TARGET_REFUSED');
      assert.equal(err.message, 'the target address is not allowed: Hookwell delivers only to public addresses (set HOOKWELL_ALLOW_PRIVATE_TARGETS=true to allow private ones)');
      return true;
    });
    const refused = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      makeGuardedLookup((_host, _opts, cb) => cb(null, [{ address: '10.0.0.5', family: 4 }]))('svc.example', {}, (err) => resolve(err)),
    );
    assert.ok(refused instanceof TargetRefusedError);
    assert.equal(refused.code, 'HOOKWELL_TARGET_REFUSED');
    assert.equal(
      refused.message,
      'the target host name does not resolve to an allowed address: Hookwell delivers only to public addresses (set HOOKWELL_ALLOW_PRIVATE_TARGETS=true to allow private ones)',
    );
  });

  it('leaves public literals and host names to connect', () => {
    for (const url of ['http://8.8.8.8/x', 'https://[2606:4700:4700::1111]:8443/x', 'http://localhost/x', 'http://internal.corp/x']) {
      assert.doesNotThrow(() => checkLiteralHost(new URL(url)), url);
    }
  });
});
