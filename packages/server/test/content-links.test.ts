// Content links as a credential: revoked with their endpoint (deleted, disabled, secret
// rotated), for thin payloads and backfill notifications alike; and the record of fetches,
// which holds only what a valid link vouches for and stays bounded per message.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CONTENT_FETCHES_KEPT } from '../src/api/content.js';
import { ContentLinks, pick } from '../src/delivery/content-links.js';
import { eventually, startReceiver, startServer, TOKEN, type Receiver, type TestServer } from './helpers.js';

const PAYLOAD = '{"user_id": "u-42", "data": {"id": "rec-7", "readings": [5.4, 5.9]}}';

describe('content links', () => {
  let server: TestServer;
  let receiver: Receiver;

  before(async () => {
    server = await startServer({ HOOKWELL_CONTENT_LINK_TTL_S: '600', HOOKWELL_RETRY_SCHEDULE: '0' });
    receiver = await startReceiver();
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  /** A new application with one thin endpoint, posting to its own path on the receiver. */
  async function thinEndpoint(): Promise<{ app: string; appId: string; ep: string; path: string }> {
    const uid = `cl-${Math.random().toString(36).slice(2)}`;
    const app = await server.api('POST', '/api/v1/app', { name: uid, uid });
    assert.equal(app.status, 201, app.text);
    const ep = await server.api('POST', `/api/v1/app/${uid}/endpoint`, { url: `${receiver.url}/${uid}`, payloadMode: 'thin' });
    assert.equal(ep.status, 201, ep.text);
    return { app: uid, appId: app.body.id, ep: ep.body.id, path: `/${uid}` };
  }

  /** Sends a message and waits for the thin delivery's content link. */
  async function linkFor(t: { app: string; path: string }): Promise<{ msg: string; url: string }> {
    const res = await server.api('POST', `/api/v1/app/${t.app}/msg`, `{"eventType": "daily.data.glucose.created", "payload": ${PAYLOAD}}`);
    assert.equal(res.status, 202, res.text);
    const got = await eventually(() => receiver.received.find((r) => r.path === t.path && r.headers['webhook-id'] === res.body.id), 10_000, 'the thin delivery');
    return { msg: res.body.id, url: JSON.parse(got.body.toString()).content.url };
  }

  const fetchesOf = async (t: { app: string }, msg: string) => {
    const res = await server.api('GET', `/api/v1/app/${t.app}/msg/${msg}/content-fetches`);
    assert.equal(res.status, 200, res.text);
    return res.body.data as { endpointId: string | null; status: number }[];
  };

  async function expect401(url: string, detail: RegExp): Promise<void> {
    const res = await fetch(url);
    const text = await res.text();
    assert.equal(res.status, 401, text);
    assert.match(JSON.parse(text).detail, detail);
  }

  it('works while the endpoint is as it was', async () => {
    const t = await thinEndpoint();
    const { url } = await linkFor(t);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), PAYLOAD);
  });

  it('stops working when the endpoint is deleted', async () => {
    const t = await thinEndpoint();
    const { url } = await linkFor(t);
    assert.equal((await fetch(url)).status, 200);
    assert.equal((await server.api('DELETE', `/api/v1/app/${t.app}/endpoint/${t.ep}`)).status, 204);
    await expect401(url, /revoked/);
  });

  it('stops working when the endpoint is disabled, by PATCH or by PUT', async () => {
    const t = await thinEndpoint();
    const { url } = await linkFor(t);
    assert.equal((await fetch(url)).status, 200);
    const patched = await server.api('PATCH', `/api/v1/app/${t.app}/endpoint/${t.ep}`, { disabled: true });
    assert.equal(patched.status, 200, patched.text);
    await expect401(url, /revoked.*disabled/);

    const u = await thinEndpoint();
    const second = await linkFor(u);
    assert.equal((await fetch(second.url)).status, 200);
    const put = await server.api('PUT', `/api/v1/app/${u.app}/endpoint/${u.ep}`, { url: `${receiver.url}${u.path}`, payloadMode: 'thin', disabled: true });
    assert.equal(put.status, 200, put.text);
    await expect401(second.url, /revoked.*disabled/);
  });

  it("stops working when the endpoint's secret is rotated; links made after it work", async () => {
    const t = await thinEndpoint();
    const before = await linkFor(t);
    assert.equal((await fetch(before.url)).status, 200);
    const rotated = await server.api('POST', `/api/v1/app/${t.app}/endpoint/${t.ep}/secret/rotate`, {});
    assert.equal(rotated.status, 204, rotated.text);
    await expect401(before.url, /not valid|revoked/);
    const after = await linkFor(t);
    assert.equal((await fetch(after.url)).status, 200, 'a link made under the new secret works');
  });

  it("revokes a backfill notification's link the same way", async () => {
    const records = Array.from({ length: 3 }, (_, i) => `{"id":"w-${i}","time_start":"${new Date(Date.UTC(2024, 5, 30) - i * 86_400_000).toISOString()}"}`).join('\n');
    const upload = async (t: { app: string }) => {
      const res = await fetch(`${server.url}/api/v1/app/${t.app}/backfill?userId=u-1&resource=workouts&provider=garmin`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
        body: records,
      });
      assert.equal(res.status, 202, await res.clone().text());
      const id = ((await res.json()) as { id: string }).id;
      const got = await eventually(
        () => receiver.received.map((r) => JSON.parse(r.body.toString())).find((b) => b.data?.backfill_id === id),
        10_000,
        'the backfill notification',
      );
      return got.data.content_url as string;
    };
    for (const revoke of ['delete', 'disable', 'rotate'] as const) {
      const t = await thinEndpoint();
      const url = await upload(t);
      assert.equal((await fetch(url)).status, 200, revoke);
      if (revoke === 'delete') assert.equal((await server.api('DELETE', `/api/v1/app/${t.app}/endpoint/${t.ep}`)).status, 204);
      if (revoke === 'disable') assert.equal((await server.api('PATCH', `/api/v1/app/${t.app}/endpoint/${t.ep}`, { disabled: true })).status, 200);
      if (revoke === 'rotate') assert.equal((await server.api('POST', `/api/v1/app/${t.app}/endpoint/${t.ep}/secret/rotate`, {})).status, 204);
      const res = await fetch(url);
      assert.equal(res.status, 401, `${revoke}: ${await res.text()}`);
    }
  });

  it('does not record a fetch whose link does not verify, whatever ids it names', async () => {
    const t = await thinEndpoint();
    const { msg, url } = await linkFor(t);
    const real = new URL(url);
    const token = real.searchParams.get('token')!;
    const [appId, , expiry, ...rest] = token.split('.');
    const forged = [
      // Real application and message, a wrong MAC, and the caller's own text as the endpoint.
      `${appId}.ep_<script>alert(1)</script>.${expiry}.${rest.join('.').replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))}`,
      `${appId}.${'x'.repeat(500)}.${Date.now() + 60_000}.AAAA.AAAA`,
      `${appId}.${t.ep}.${expiry}.AAAA`,
      `${appId}.${t.ep}.${expiry}`,
      'garbage',
    ];
    for (const f of forged) {
      const bad = new URL(real);
      bad.searchParams.set('token', f);
      assert.equal((await fetch(bad)).status, 401, f);
    }
    assert.deepEqual(await fetchesOf(t, msg), [], 'nothing a refused caller chose is stored');

    assert.equal((await fetch(url)).status, 200);
    assert.equal((await server.api('PATCH', `/api/v1/app/${t.app}/endpoint/${t.ep}`, { disabled: true })).status, 200);
    assert.equal((await fetch(url)).status, 401);
    const fetches = await fetchesOf(t, msg);
    assert.deepEqual(
      fetches.map((f) => [f.status, f.endpointId]),
      [
        [401, t.ep],
        [200, t.ep],
      ],
      'a verified link is recorded, allowed or revoked, with the endpoint it was made for',
    );
  });

  it('refuses a valid token re-pointed at another endpoint, application, message or expiry', async () => {
    const t = await thinEndpoint();
    // Beside it, endpoints with the same signing secret, in its application and in another:
    // the secret tag the token carries fits them as well, so only the MAC tells them apart.
    const secret = (await server.api('GET', `/api/v1/app/${t.app}/endpoint/${t.ep}/secret`)).body.key as string;
    const sibling = await server.api('POST', `/api/v1/app/${t.app}/endpoint`, { url: `${receiver.url}${t.path}-b`, payloadMode: 'thin', secret });
    assert.equal(sibling.status, 201, sibling.text);
    const u = await thinEndpoint();
    const twin = await server.api('POST', `/api/v1/app/${u.app}/endpoint`, { url: `${receiver.url}${u.path}-b`, payloadMode: 'thin', secret });
    assert.equal(twin.status, 201, twin.text);
    const { msg, url } = await linkFor(t);
    const other = await linkFor(t);

    const real = new URL(url);
    const [appId, endpointId, expiry, tag, mac] = real.searchParams.get('token')!.split('.') as [string, string, string, string, string];
    assert.equal(endpointId, t.ep);
    const withToken = (parts: string[], path = real.pathname) => {
      const bad = new URL(real);
      bad.pathname = path;
      bad.searchParams.set('token', parts.join('.'));
      return bad.toString();
    };
    const repointed: Record<string, string> = {
      'another endpoint of the application': withToken([appId, sibling.body.id, expiry, tag, mac]),
      'another application': withToken([u.appId, twin.body.id, expiry, tag, mac]),
      'another message': withToken([appId, endpointId, expiry, tag, mac], new URL(other.url).pathname),
      'a later expiry': withToken([appId, endpointId, String(Number(expiry) + 3_600_000), tag, mac]),
    };
    for (const [what, bad] of Object.entries(repointed)) await expect401(bad, /not valid for this message/).catch((err: Error) => assert.fail(`${what}: ${err.message}`));
    assert.deepEqual(await fetchesOf(t, msg), [], 'no refused token is recorded');
    assert.deepEqual(await fetchesOf(t, other.msg), []);

    const res = await fetch(url);
    assert.equal(res.status, 200, 'the token as made still works');
    assert.equal(await res.text(), PAYLOAD);
  });

  it(`keeps the newest ${CONTENT_FETCHES_KEPT} fetches of a message`, async () => {
    const t = await thinEndpoint();
    const { msg, url } = await linkFor(t);
    const extra = 15;
    for (let i = 0; i < CONTENT_FETCHES_KEPT + extra; i++) assert.equal((await fetch(url)).status, 200);
    const kept = await eventually(async () => {
      const all = await server.hw.store.listContentFetches(t.appId, msg, 10_000);
      return all.length <= CONTENT_FETCHES_KEPT ? all : undefined;
    }, 5000, `at most ${CONTENT_FETCHES_KEPT} fetches kept`);
    assert.equal(kept.length, CONTENT_FETCHES_KEPT);
    // The last one made is among them: pruning drops the oldest.
    assert.equal((await fetch(url)).status, 200);
    const newest = await eventually(async () => {
      const all = await server.hw.store.listContentFetches(t.appId, msg, 10_000);
      return all.length === CONTENT_FETCHES_KEPT && all[0]!.createdAt >= kept[0]!.createdAt ? all : undefined;
    }, 5000, 'the newest fetch kept');
    assert.ok(newest[0]!.createdAt >= kept[0]!.createdAt);
  });
});

describe('content link tokens', () => {
  const links = new ContentLinks(Buffer.alloc(32, 7), () => 'https://hooks.example', 600_000);
  const now = 1_700_000_000_000;
  const token = (url: string) => new URL(url).searchParams.get('token')!;

  it('verify only for the message, application, endpoint, expiry and secret they were made for', () => {
    const made = token(links.make('app_A', 'msg_1', 'ep_A', 'whsec_one', now).url);
    const grant = links.read('msg_1', made, now);
    assert.deepEqual(grant, { verified: true, appId: 'app_A', endpointId: 'ep_A', expiresAt: now + 600_000, expired: false, secretTag: links.secretTag('whsec_one') });
    const later = links.read('msg_1', made, now + 600_000);
    assert.ok(later.verified && later.expired, 'at its expiry: verified, and expired');

    const [appId, endpointId, expiry, tag, mac] = made.split('.') as [string, string, string, string, string];
    const altered: Record<string, string> = {
      application: [`app_B`, endpointId, expiry, tag, mac].join('.'),
      endpoint: [appId, 'ep_B', expiry, tag, mac].join('.'),
      expiry: [appId, endpointId, String(Number(expiry) + 1), tag, mac].join('.'),
      'secret tag': [appId, endpointId, expiry, links.secretTag('whsec_two'), mac].join('.'),
    };
    for (const [what, t] of Object.entries(altered)) assert.equal(links.read('msg_1', t, now).verified, false, what);
    assert.equal(links.read('msg_2', made, now).verified, false, 'another message');
    assert.equal(new ContentLinks(Buffer.alloc(32, 8), () => '', 600_000).read('msg_1', made, now).verified, false, 'another installation');
  });
});

describe('content link tokens: reading', () => {
  const links = new ContentLinks(Buffer.alloc(32, 7), () => 'https://hooks.example', 600_000);
  const now = 1_700_000_000_000;
  const made = new URL(links.make('app_A', 'msg_1', 'ep_A', 'whsec_one', now).url).searchParams.get('token')!;
  const [appId, endpointId, expiry, tag, mac] = made.split('.') as [string, string, string, string, string];

  it('carries a 22-character tag of the secret', () => {
    assert.match(tag, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(links.secretTag('whsec_one'), tag);
  });

  it('calls a token without five parts malformed, and believes nothing of it', () => {
    for (const t of ['', made.split('.').slice(0, 4).join('.'), `${made}.x`]) {
      assert.deepEqual(links.read('msg_1', t, now), { verified: false, why: 'the content link is malformed' }, t);
    }
  });

  it('reads the expiry only as decimal digits, so a token has one spelling', () => {
    const e = Number(expiry);
    // The first five are the expiry to Number(), so their MAC would hold; then no number, and one past 2^53.
    for (const other of [`+${e}`, `${e}e0`, ` ${e}`, `${e} `, `0x${e.toString(16)}`, '', '99999999999999999999']) {
      assert.deepEqual(links.read('msg_1', [appId, endpointId, other, tag, mac].join('.'), now), { verified: false, why: 'the content link is malformed' }, other);
    }
    assert.deepEqual(links.read('msg_1', [appId, endpointId, expiry, tag, `${mac}x`].join('.'), now), {
      verified: false,
      why: 'the content link is not valid for this message',
    });
  });

  it('tells whether a grant was made under the secret, whatever the length of the tag it carries', () => {
    assert.equal(links.madeUnder({ secretTag: tag }, 'whsec_one'), true);
    assert.equal(links.madeUnder({ secretTag: tag }, 'whsec_two'), false);
    assert.equal(links.madeUnder({ secretTag: tag.slice(1) }, 'whsec_one'), false);
    assert.equal(links.madeUnder({ secretTag: `${tag}A` }, 'whsec_one'), false);
  });
});

describe('pick: the identifiers of a thin delivery', () => {
  const payload = {
    user_id: 'u-1',
    data: { id: 'rec-7', user_id: 'u-1', note: 'private', empty: null, nested: { a: 1, b: 2 } },
    items: [{ id: 'i-1', name: 'n-1', secret: 's' }, { name: 'n-2' }, { id: 'i-3' }],
    tags: ['a', 'b'],
    count: 0,
  };

  it('keeps only the values at the paths, where they were', () => {
    assert.deepEqual(pick(payload, [['user_id'], ['data', 'id']]), { user_id: 'u-1', data: { id: 'rec-7' } });
    assert.deepEqual(pick(payload, [['data', 'nested']]), { data: { nested: { a: 1, b: 2 } } });
    assert.deepEqual(pick(payload, [['data', 'empty'], ['count']]), { data: { empty: null }, count: 0 });
  });

  it('merges paths that share a beginning', () => {
    assert.deepEqual(pick(payload, [['data', 'id'], ['data', 'user_id'], ['data', 'nested', 'b']]), { data: { id: 'rec-7', user_id: 'u-1', nested: { b: 2 } } });
    assert.deepEqual(pick(payload, [['data', 'nested', 'a'], ['data', 'nested']]), { data: { nested: { a: 1, b: 2 } } });
    assert.deepEqual(pick(payload, [['data', 'nested'], ['data', 'nested', 'a']]), { data: { nested: { a: 1, b: 2 } } });
  });

  it('reads "*" as every element of an array, keeping each element in its place', () => {
    assert.deepEqual(pick(payload, [['items', '*', 'id']]), { items: [{ id: 'i-1' }, {}, { id: 'i-3' }] });
    assert.deepEqual(pick(payload, [['items', '*', 'id'], ['items', '*', 'name']]), {
      items: [{ id: 'i-1', name: 'n-1' }, { name: 'n-2' }, { id: 'i-3' }],
    });
    assert.deepEqual(pick(payload, [['tags', '*']]), { tags: ['a', 'b'] });
    assert.deepEqual(pick(payload, [['tags', '*'], ['tags', '*']]), { tags: ['a', 'b'] });
    assert.deepEqual(pick([{ id: 1, x: 2 }], [['*', 'id']]), { 0: { id: 1 } });
  });

  it('leaves out what the payload does not have', () => {
    assert.deepEqual(pick(payload, [['missing'], ['data', 'missing'], ['data', 'id', 'deeper'], ['tags', 'x'], ['data', '*'], ['user_id', '*'], []]), {});
    assert.deepEqual(pick(payload, [['items', 'id'], ['items', '0']]), {}, 'a name does not read an array');
    assert.deepEqual(pick('text', [['length']]), {});
    assert.deepEqual(pick(null, [['a']]), {});
  });
});

describe('pick: edge cases', () => {
  it('picks a null reached by two paths once, and nothing for an empty path', () => {
    const payload = { data: { empty: null, id: 'rec-7' }, undefined: 'not a path' };
    assert.deepEqual(pick(payload, [['data', 'empty'], ['data', 'empty']]), { data: { empty: null } });
    assert.deepEqual(pick(payload, [['data', 'empty'], ['data']]), { data: { empty: null, id: 'rec-7' } });
    assert.deepEqual(pick(payload, [[]]), {});
  });
});
