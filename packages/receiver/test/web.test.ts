// The sync node:crypto `verify` and the Web Crypto `verifyAsync` must behave identically:
// every case below runs against both, and a final test compares their errors one to one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook as SvixWebhook } from 'svix';
import { Webhook as StdWebhook } from 'standardwebhooks';
import { generateKeyPair, generateSecret, sign, verify, type VerifyOptions, type WebhookHeaders } from '../src/index.js';
import { verifyAsync, WebhookVerificationError } from '../src/web.js';
import { assertRejectsCode } from './helpers.js';

type Verifier = (body: string | Uint8Array, headers: WebhookHeaders, secret: string | string[], options?: VerifyOptions) => Promise<unknown>;
const verifiers: [string, Verifier][] = [
  ['verify (node:crypto)', async (...args) => verify(...args)],
  ['verifyAsync (Web Crypto)', verifyAsync],
];

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const msgId = 'msg_web_1';
const ts = 1700000000;
const opts = { now: () => ts * 1000 };
const body = '{"type":"invoice.paid","data":{"id":"inv_1"}}';
const parsed = JSON.parse(body) as unknown;

function headersFor(payload: string | Uint8Array = body, timestamp = ts, s = secret) {
  return { 'webhook-id': msgId, 'webhook-timestamp': String(timestamp), 'webhook-signature': sign(s, msgId, timestamp, payload) };
}

const cases: Record<string, (v: Verifier) => Promise<void>> = {
  async 'the spec test vector'(v) {
    const headers = {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    };
    assert.deepEqual(await v('{"test": 2432232314}', headers, secret, { now: () => 1614265330_000 }), { test: 2432232314 });
    await assertRejectsCode(v('{"test": 2432232315}', headers, secret, { now: () => 1614265330_000 }), 'no_matching_signature');
  },
  async 'svix-* names, mixed case, Fetch Headers, bare secret'(v) {
    const h = headersFor();
    const svix = { 'Svix-Id': h['webhook-id'], 'SVIX-TIMESTAMP': h['webhook-timestamp'], 'svix-signature': h['webhook-signature'] };
    assert.deepEqual(await v(body, svix, secret, opts), parsed);
    assert.deepEqual(await v(body, new Headers(svix), secret.slice(6), opts), parsed);
  },
  async 'bytes payload, several signatures and secrets, unknown versions skipped'(v) {
    const bytes = new TextEncoder().encode(body);
    const valid = sign(secret, msgId, ts, bytes);
    const header = `v2,x v1a,${valid.slice(3)} ${sign(generateSecret(), msgId, ts, body)} v1,short ${valid}`;
    assert.deepEqual(await v(bytes, { ...headersFor(), 'webhook-signature': header }, [generateSecret(), secret], opts), parsed);
  },
  async 'tolerance: edges pass, one second beyond fails both ways'(v) {
    assert.deepEqual(await v(body, headersFor(body, ts - 300), secret, opts), parsed);
    assert.deepEqual(await v(body, headersFor(body, ts + 300), secret, opts), parsed);
    await assertRejectsCode(v(body, headersFor(body, ts - 301), secret, opts), 'timestamp_too_old');
    await assertRejectsCode(v(body, headersFor(body, ts + 301), secret, opts), 'timestamp_too_new');
    assert.deepEqual(await v(body, headersFor(body, ts - 900), secret, { ...opts, toleranceSeconds: 900 }), parsed);
  },
  async 'tampered body, id or timestamp'(v) {
    await assertRejectsCode(v(body.replace('inv_1', 'inv_2'), headersFor(), secret, opts), 'no_matching_signature', /No matching v1 signature/);
    await assertRejectsCode(v(body, { ...headersFor(), 'webhook-id': 'msg_other' }, secret, opts), 'no_matching_signature');
    await assertRejectsCode(v(body, { ...headersFor(), 'webhook-timestamp': String(ts + 1) }, secret, opts), 'no_matching_signature');
  },
  async 'bad input codes'(v) {
    await assertRejectsCode(v(body, { ...headersFor(), 'webhook-id': '' }, secret, opts), 'missing_headers');
    await assertRejectsCode(v(body, { ...headersFor(), 'webhook-timestamp': '17e8' }, secret, opts), 'invalid_timestamp');
    await assertRejectsCode(v(body, headersFor(), 'whsec_abc', opts), 'invalid_secret');
    await assertRejectsCode(v('nope', headersFor('nope'), secret, opts), 'invalid_payload', /JSON/);
    await assertRejectsCode(v(new Uint8Array([0x22, 0xff, 0x22]), headersFor(new Uint8Array([0x22, 0xff, 0x22])), secret, opts), 'invalid_payload', /UTF-8/);
  },
  async 'signatures from the svix and standardwebhooks packages'(v) {
    const now = Math.floor(Date.now() / 1000);
    const unicode = '{"name":"Zoë","emoji":"🚀",  "n" : 1}';
    const date = new Date(now * 1000);
    const fromSvix = new SvixWebhook(secret).sign(msgId, date, unicode);
    const fromStd = new StdWebhook(secret).sign(msgId, date, unicode);
    assert.deepEqual(await v(unicode, { 'svix-id': msgId, 'svix-timestamp': String(now), 'svix-signature': fromSvix }, secret), JSON.parse(unicode));
    assert.deepEqual(await v(unicode, { 'webhook-id': msgId, 'webhook-timestamp': String(now), 'webhook-signature': fromStd }, secret), JSON.parse(unicode));
    await assertRejectsCode(v(unicode.replace('1', '2'), { 'webhook-id': msgId, 'webhook-timestamp': String(now), 'webhook-signature': fromStd }, secret), 'no_matching_signature');
  },
};

for (const [label, v] of verifiers) {
  describe(label, () => {
    for (const [name, run] of Object.entries(cases)) test(name, () => run(v));
  });
}

test('sync and Web Crypto verifiers fail with the same code and message for the same input', async () => {
  const inputs: [string | Uint8Array, WebhookHeaders, string | string[]][] = [
    [body, {}, secret],
    [body, headersFor(), []],
    [body, headersFor(), 'whsk_AAAA'],
    [body, { ...headersFor(), 'webhook-timestamp': '1.5' }, secret],
    [body, headersFor(body, ts - 400), secret],
    [body, headersFor(body, ts + 400), secret],
    [body, { ...headersFor(), 'webhook-signature': 'v2,abc' }, secret],
    [body + ' ', headersFor(), secret],
    ['[', headersFor('['), secret],
  ];
  for (const [payload, headers, s] of inputs) {
    let syncError: unknown;
    try {
      verify(payload, headers, s, opts);
    } catch (error) {
      syncError = error;
    }
    assert.ok(syncError instanceof WebhookVerificationError, `sync verify should reject ${JSON.stringify(headers)}`);
    await assert.rejects(verifyAsync(payload, headers, s, opts), (asyncError: unknown) => {
      assert.ok(asyncError instanceof WebhookVerificationError);
      assert.deepEqual([asyncError.code, asyncError.message], [syncError.code, syncError.message]);
      return true;
    });
  }
});

test('our v1 signatures, checked by Web Crypto, are accepted by the svix and standardwebhooks packages', async () => {
  const now = Math.floor(Date.now() / 1000);
  const header = sign(secret, msgId, now, body);
  assert.deepEqual(await verifyAsync(body, headersFor(body, now), secret), parsed);
  assert.deepEqual(new SvixWebhook(secret).verify(body, { 'svix-id': msgId, 'svix-timestamp': String(now), 'svix-signature': header }), parsed);
  assert.deepEqual(new StdWebhook(secret).verify(body, { 'webhook-id': msgId, 'webhook-timestamp': String(now), 'webhook-signature': header }), parsed);
});

test('verifyAsync does not need the Buffer global', async () => {
  const saved = globalThis.Buffer;
  try {
    Reflect.deleteProperty(globalThis, 'Buffer');
    assert.equal(typeof (globalThis as { Buffer?: unknown }).Buffer, 'undefined');
    assert.deepEqual(await verifyAsync(body, headersFor(), secret, opts), parsed);
    await assertRejectsCode(verifyAsync(body + 'x', headersFor(), secret, opts), 'no_matching_signature');
  } finally {
    globalThis.Buffer = saved;
  }
});

test('nothing reachable from the web entry point imports node: modules or uses Buffer', () => {
  const src = join(dirname(fileURLToPath(import.meta.url)), '../src');
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(join(src, file), 'utf8');
    assert.doesNotMatch(text, /from ['"]node:|require\(|\bBuffer\b/, `${file} must stay runtime-neutral`);
    for (const [, dep] of text.matchAll(/from '\.\/([\w-]+)\.js'/g)) visit(`${dep}.ts`);
  };
  visit('web.ts');
  assert.deepEqual([...seen].sort(), ['core.ts', 'handler.ts', 'headers.ts', 'verify-async.ts', 'web.ts']);
});

// The checks both verifiers share (core.ts), each run against both.
for (const [label, v] of verifiers) {
  describe(`${label}: shared checks`, () => {
    test('a signature that is a prefix or an extension of the right one is refused', async () => {
      const right = headersFor()['webhook-signature'].slice('v1,'.length);
      for (const wrong of [right.slice(0, 8), right.slice(0, -1), `${right}A`, `${right}${right}`]) {
        await assertRejectsCode(v(body, { ...headersFor(), 'webhook-signature': `v1,${wrong}` }, secret, opts), 'no_matching_signature', /No matching v1 signature found/);
      }
    });

    test('with an HMAC secret and a public key, a forged v1a entry alone is refused', async () => {
      const { publicKey } = generateKeyPair();
      const forged = `v1a,${Buffer.alloc(64, 7).toString('base64')}`;
      await assertRejectsCode(v(body, { ...headersFor(), 'webhook-signature': forged }, [secret, publicKey], opts), 'no_matching_signature', /No matching v1 or v1a signature found/);
      await assertRejectsCode(v(body, { ...headersFor(), 'webhook-signature': 'v2,abc' }, [secret, publicKey], opts), 'no_matching_signature', /No v1 or v1a signature present/);
    });

    test('an entry without a comma is no signature at all', async () => {
      await assertRejectsCode(v(body, { ...headersFor(), 'webhook-signature': 'v1a' }, secret, opts), 'no_matching_signature', /^No v1 signature present in webhook-signature$/);
    });

    test('secrets that cannot be used are named as such', async () => {
      await assertRejectsCode(v(body, headersFor(), [], opts), 'invalid_secret', /^Invalid secret: no secrets given$/);
      await assertRejectsCode(v(body, headersFor(), 'whsec_not base64', opts), 'invalid_secret', /^Invalid secret: expected "whsec_<base64>", bare base64 or "whpk_<base64>"$/);
    });

    test('a header given as undefined under another casing does not hide the one given', async () => {
      const h = headersFor();
      const headers = { 'Webhook-Id': h['webhook-id'], 'webhook-id': undefined, 'webhook-timestamp': h['webhook-timestamp'], 'webhook-signature': h['webhook-signature'] };
      assert.deepEqual(await v(body, headers, secret, opts), parsed);
    });
  });
}
