// Historical backfills on a real server and receiver over HTTP: chunks, notifications in
// order, content links with pages, and uploads refused whole.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { verify } from '@hookwell/receiver';
import { eventually, startReceiver, startServer, TOKEN, type Receiver, type TestServer } from './helpers.js';

const DAY = 86_400_000;
const NEWEST = Date.UTC(2024, 5, 30, 7, 15);

/** `n` workouts, newest first, a day apart. */
function workouts(n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    // Varied spacing, as an upload may have it; kept as sent.
    return `{"id":"w-${i}", "time_start":"${new Date(NEWEST - i * DAY).toISOString()}","calories":${100 + i},"title":"ride [${i}], \\"easy\\""}`;
  });
}

describe('historical backfills', () => {
  let server: TestServer;
  let receiver: Receiver;
  let secret: string;

  const upload = (query: string, body: string | Uint8Array | ReadableStream, type = 'application/x-ndjson', headers: Record<string, string> = {}) =>
    fetch(`${server.url}/api/v1/app/b/backfill?${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type, ...headers },
      body,
      ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);

  /** Every record behind a link, following its pages. */
  async function fetchAll(link: string, limit: number): Promise<{ records: string[]; pages: number }> {
    const records: string[] = [];
    let pages = 0;
    let iterator: string | null = null;
    for (;;) {
      const url = new URL(link);
      url.searchParams.set('limit', String(limit));
      if (iterator !== null) url.searchParams.set('iterator', iterator);
      const res = await fetch(url);
      assert.equal(res.status, 200, await res.clone().text());
      const text = await res.text();
      const page = JSON.parse(text) as { data: unknown[]; iterator: string | null; done: boolean };
      pages++;
      assert.ok(page.data.length <= limit);
      // Records come back as uploaded, byte for byte: find each one's own text in the page.
      for (const r of page.data) {
        const id = (r as { id: string }).id;
        const own = workouts(1, Number(id.slice(2)))[0]!;
        assert.ok(text.includes(own), `record ${id} is returned exactly as sent`);
        records.push(own);
      }
      if (page.done) {
        assert.equal(page.iterator, null);
        return { records, pages };
      }
      iterator = page.iterator;
    }
  }

  /** The notifications of one backfill, once `n` have arrived. */
  const notesOf = (id: string, n: number) =>
    eventually(() => {
      const notes = receiver.received.map((r) => JSON.parse(r.body.toString())).filter((b) => b.data.backfill_id === id);
      return notes.length >= n ? notes : undefined;
    }, 20_000, `${n} notifications of ${id}`);

  before(async () => {
    server = await startServer({ HOOKWELL_RETRY_SCHEDULE: '1,1,1', HOOKWELL_MAX_PAYLOAD_BYTES: '262144' });
    receiver = await startReceiver();
    await server.api('POST', '/api/v1/app', { name: 'b', uid: 'b' });
    // From the health catalogue, validating: the notifications must match its schema.
    assert.equal((await server.api('POST', '/api/v1/event-type/import', { catalog: 'health' })).status, 200);
    assert.equal((await server.api('PATCH', '/api/v1/event-type/historical.data.workouts.created', { validate: true })).status, 200);
    const ep = await server.api('POST', '/api/v1/app/b/endpoint', { url: `${receiver.url}/hooks`, filterTypes: ['historical.data.workouts.created'] });
    assert.equal(ep.status, 201, ep.text);
    secret = (await server.api('GET', `/api/v1/app/b/endpoint/${ep.body.id}/secret`)).body.key;
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  it('stores an NDJSON upload in chunks and notifies each, most recent first, with a paginated link to its records', async () => {
    receiver.received.length = 0;
    const records = workouts(25);
    const res = await upload('userId=u-1&resource=workouts&provider=garmin&chunkSize=10', `${records.join('\n')}\n`);
    const text = await res.text();
    assert.equal(res.status, 202, text);
    const bf = JSON.parse(text);
    assert.match(bf.id, /^bf_[0-9A-Za-z]{27}$/);
    assert.deepEqual(
      { status: bf.status, records: bf.records, chunks: bf.chunks, notify: bf.notify, eventType: bf.eventType },
      { status: 'complete', records: 25, chunks: 3, notify: 'each', eventType: 'historical.data.workouts.created' },
    );

    const got = await receiver.waitFor(3);
    const notes = got.map((r) => {
      verify(r.body.toString(), r.headers as Record<string, string>, secret);
      return JSON.parse(r.body.toString());
    });
    assert.deepEqual(
      notes.map((n) => [n.data.chunk, n.data.is_final, n.data.records, n.data.start_date, n.data.end_date]),
      [
        [0, false, 10, new Date(NEWEST).toISOString(), new Date(NEWEST - 9 * DAY).toISOString()],
        [1, false, 10, new Date(NEWEST - 10 * DAY).toISOString(), new Date(NEWEST - 19 * DAY).toISOString()],
        [2, true, 5, new Date(NEWEST - 20 * DAY).toISOString(), new Date(NEWEST - 24 * DAY).toISOString()],
      ],
      'one per chunk, in order, is_final on the last only',
    );
    for (const n of notes) {
      assert.equal(n.event_type, 'historical.data.workouts.created');
      assert.deepEqual([n.data.user_id, n.data.provider, n.data.backfill_id, n.data.chunks], ['u-1', 'garmin', bf.id, 3]);
      assert.ok(Date.parse(n.data.content_expires_at) > Date.now());
    }

    // Each link leads to its own chunk's records, in pages.
    const chunk0 = await fetchAll(notes[0].data.content_url, 4);
    assert.deepEqual(chunk0.records, records.slice(0, 10));
    assert.equal(chunk0.pages, 3);
    assert.deepEqual((await fetchAll(notes[2].data.content_url, 100)).records, records.slice(20));

    // A link opens only its own notification's records.
    const foreign = new URL(notes[1].data.content_url);
    foreign.pathname = new URL(notes[0].data.content_url).pathname;
    assert.equal((await fetch(foreign)).status, 401);

    // The notifications are messages like any other, found by the backfill's id.
    const msgs = await server.api('GET', `/api/v1/app/b/msg?data_id=${bf.id}`);
    assert.equal(msgs.body.data.length, 3);
    const detail = await server.api('GET', `/api/v1/app/b/backfill/${bf.id}`);
    assert.deepEqual(
      detail.body.chunkList.map((c: { index: number; records: number; msgId: string }) => [c.index, c.records, c.msgId]),
      [0, 1, 2].map((i) => [i, i < 2 ? 10 : 5, notes[i].data.content_url.match(/content\/(msg_[^?]+)/)[1]]),
    );
  });

  it('takes a JSON array too, and with notify=once sends one notification leading to every record', async () => {
    const records = workouts(30, 100);
    const res = await upload('userId=u-2&resource=workouts&provider=polar&chunkSize=7&notify=once', ` [\n${records.join(',\n')}\n]`, 'application/json');
    assert.equal(res.status, 202, await res.clone().text());
    const bf = await res.json();
    assert.deepEqual([bf.chunks, bf.records, bf.notify], [5, 30, 'once']);
    assert.match(bf.msgId, /^msg_/);
    const [note] = await notesOf(bf.id, 1);
    assert.equal(note.data.is_final, true);
    assert.equal(note.data.records, 30);
    assert.equal(note.data.start_date, new Date(NEWEST - 100 * DAY).toISOString());
    assert.equal(note.data.end_date, new Date(NEWEST - 129 * DAY).toISOString());
    assert.equal(note.data.chunk, undefined);
    const all = await fetchAll(note.data.content_url, 8);
    assert.deepEqual(all.records, records);
    assert.equal(all.pages, 4);
    const stored = (await server.api('GET', '/api/v1/app/b/msg?limit=250')).body.data as { id: string; payload: { data?: { backfill_id?: string } } }[];
    assert.deepEqual(stored.filter((m) => m.payload.data?.backfill_id === bf.id).map((m) => m.id), [bf.msgId], 'one notification stored');
    // Another backfill's notification, sent after: once it has arrived, a second one of this
    // backfill, written before it, would have been sent too.
    const later = await upload('userId=u-2b&resource=workouts&provider=polar&notify=once', workouts(1).join('\n'));
    assert.equal(later.status, 202, await later.clone().text());
    await notesOf((await later.json()).id, 1);
    assert.equal((await notesOf(bf.id, 1)).length, 1, 'only one notification');
  });

  it('sends the notifications of a backfill one at a time: a failing chunk holds back the later ones until it succeeds', async () => {
    receiver.received.length = 0;
    let failed = 0;
    receiver.respond = (r) => {
      const note = JSON.parse(r.body.toString());
      if (note.data.chunk === 0 && failed < 2) {
        failed++;
        return { status: 503 };
      }
      return { status: 200 };
    };
    try {
      const res = await upload('userId=u-3&resource=workouts&provider=garmin&chunkSize=2', workouts(6).join('\n'));
      assert.equal(res.status, 202);
      const got = await notesOf((await res.json()).id, 5);
      assert.deepEqual(
        got.map((n) => n.data.chunk),
        [0, 0, 0, 1, 2],
        'chunk 1 waits for chunk 0 to be delivered',
      );
    } finally {
      receiver.respond = () => ({ status: 200 });
    }
  });

  it('finds dates at dateField, or at the usual fields of health records', async () => {
    const samples = ['{"id":"s1","at":{"when":"2024-02-02T10:00:00Z"}}', '{"id":"s2","at":{"when":"2024-02-01T10:00:00Z"}}'];
    const ok = await upload('userId=u&resource=workouts&provider=p&dateField=$.at.when', samples.join('\n'));
    assert.equal(ok.status, 202, await ok.clone().text());
    const sleep = ['{"id":"z1","bedtime_start":"2024-02-02T22:00:00Z"}', '{"id":"z2","calendar_date":"2024-02-01"}'];
    assert.equal((await upload('userId=u&resource=workouts&provider=p', sleep.join('\n'))).status, 202);
  });

  it('refuses a bad upload whole, naming the record, and keeps nothing of it', async () => {
    const before = (await server.api('GET', '/api/v1/app/b/backfill?limit=250')).body.data.length;
    const messagesBefore = (await server.api('GET', '/api/v1/app/b/msg?limit=250')).body.data.length;
    const good = workouts(40);
    const q = 'userId=u-9&resource=workouts&provider=garmin&chunkSize=3';
    const cases: [string, string, number, RegExp, string?][] = [
      ['out of order', [...good.slice(0, 30), good[35]!, good[31]!].join('\n'), 422, /record 32 .* is newer than record 31 .*newest first/],
      ['not JSON', [...good.slice(0, 20), '{"id": oops}'].join('\n'), 400, /record 21 is not valid JSON/],
      ['not an object', [...good.slice(0, 2), '[1,2]'].join('\n'), 422, /record 3 is not a JSON object/],
      ['no date', [...good.slice(0, 5), '{"id":"x"}'].join('\n'), 422, /record 6 has no date at any of timestamp, time_start/],
      ['a date that is not one', '{"id":"x","timestamp":"yesterday"}', 422, /record 1 has "yesterday" at "timestamp", which is not an ISO 8601 date/],
      ['no records', '\n\n', 422, /no records/],
      ['a broken array', `[${good.slice(0, 4).join(',')}`, 400, /closing "\]" is missing/, 'application/json'],
      ['a record too large', [...good.slice(0, 3), `{"timestamp":"2020-01-01T00:00:00Z","x":"${'y'.repeat(300_000)}"}`].join('\n'), 413, /record 4 is larger than the limit of 262144 bytes/],
    ];
    for (const [what, body, status, detail, type] of cases) {
      const res = await upload(q, body, type);
      const text = await res.text();
      assert.equal(res.status, status, `${what}: ${text}`);
      const out = JSON.parse(text);
      assert.match(typeof out.detail === 'string' ? out.detail : out.detail[0].msg, detail, what);
    }
    // Query problems are 422s naming the parameter.
    const missing = await upload('resource=workouts&provider=garmin', good.join('\n'));
    assert.equal(missing.status, 422);
    assert.deepEqual((await missing.json()).detail[0].loc, ['query', 'userId']);
    const badResource = await upload('userId=u&resource=Work-outs&provider=garmin', good.join('\n'));
    assert.equal(badResource.status, 422);
    const badPath = await upload('userId=u&resource=workouts&provider=garmin&dateField=time_start', good.join('\n'));
    assert.equal(badPath.status, 422);
    assert.match((await badPath.json()).detail[0].msg, /must start with "\$"/);
    // An unknown application: 404.
    const unknown = await fetch(`${server.url}/api/v1/app/nope/backfill?${q}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body: good.join('\n'),
    });
    assert.equal(unknown.status, 404);

    assert.equal((await server.api('GET', '/api/v1/app/b/backfill?limit=250')).body.data.length, before, 'no backfill kept');
    assert.equal((await server.api('GET', '/api/v1/app/b/msg?limit=250')).body.data.length, messagesBefore, 'no notification made');
  });

  it('keeps nothing of an upload the client breaks off', async () => {
    const before = (await server.api('GET', '/api/v1/app/b/backfill?limit=250')).body.data.length;
    const ac = new AbortController();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        // A few batches' worth, then the client gives up.
        if (sent === 3000) {
          ac.abort();
          return;
        }
        controller.enqueue(new TextEncoder().encode(`${workouts(100, sent).join('\n')}\n`));
        sent += 100;
        await new Promise((r) => setTimeout(r, 2));
      },
    });
    await assert.rejects(
      fetch(`${server.url}/api/v1/app/b/backfill?userId=u-a&resource=workouts&provider=garmin&chunkSize=50`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
        body,
        duplex: 'half',
        signal: ac.signal,
      } as RequestInit),
    );
    await eventually(async () => {
      const list = (await server.api('GET', '/api/v1/app/b/backfill?limit=250')).body.data;
      return list.length === before ? true : undefined;
    }, 10_000, 'the broken-off backfill to be removed');
  });

  it('answers a repeated upload with the same idempotency-key with the first response, and refuses another body under it', async () => {
    const q = 'userId=u-i&resource=workouts&provider=garmin&chunkSize=5';
    const body = workouts(12).join('\n');
    const first = await upload(q, body, 'application/x-ndjson', { 'idempotency-key': 'bf-key-1' });
    assert.equal(first.status, 202);
    const firstBody = await first.text();
    const again = await upload(q, body, 'application/x-ndjson', { 'idempotency-key': 'bf-key-1' });
    assert.equal(again.status, 202);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(await again.text(), firstBody);
    const other = await upload(q, workouts(11).join('\n'), 'application/x-ndjson', { 'idempotency-key': 'bf-key-1' });
    assert.equal(other.status, 409);
    const list = (await server.api('GET', '/api/v1/app/b/backfill?limit=250')).body.data;
    assert.equal(list.filter((b: { userId: string }) => b.userId === 'u-i').length, 1, 'stored once');
  });

  it('deletes a backfill: its links then lead nowhere', async () => {
    const res = await upload('userId=u-d&resource=workouts&provider=garmin&chunkSize=100', workouts(3).join('\n'));
    const bf = await res.json();
    const [note] = await notesOf(bf.id, 1);
    const link = note.data.content_url;
    assert.equal((await fetch(link)).status, 200);
    assert.equal((await server.api('DELETE', `/api/v1/app/b/backfill/${bf.id}`)).status, 204);
    const gone = await fetch(link);
    // Gone for good (410), not a bad link (401): asking again will not help.
    assert.equal(gone.status, 410);
    const body = await gone.json();
    assert.equal(body.code, 'content_deleted');
    assert.match(body.detail, /deleted/);
    assert.equal((await server.api('GET', `/api/v1/app/b/backfill/${bf.id}`)).status, 404);
  });
});
