import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { Webhook as StdWebhook } from 'standardwebhooks';
import {
  generateKeyPair,
  generateSecret,
  publicKeyOf,
  sign,
  signatureHeader,
  verify,
  verifyAsync,
  type VerifyOptions,
  type WebhookHeaders,
} from '../src/index.js';
import { assertRejectsCode } from './helpers.js';

type Verifier = (body: string | Uint8Array, headers: WebhookHeaders, secret: string | string[], options?: VerifyOptions) => Promise<unknown>;
const verifiers: [string, Verifier][] = [
  ['verify', async (...args) => verify(...args)],
  ['verifyAsync', verifyAsync],
];

const { secretKey, publicKey } = generateKeyPair();
const msgId = 'msg_v1a_1';
const ts = 1700000000;
const opts = { now: () => ts * 1000 };
const body = '{ "type" : "contact.created",\n  "data": {"id":"c_1"} }';
const parsed = JSON.parse(body) as unknown;
const headersFor = (signature: string, id = msgId, timestamp = ts) => ({
  'webhook-id': id,
  'webhook-timestamp': String(timestamp),
  'webhook-signature': signature,
});

// RFC 8032 section 7.1, TEST 1: an independent check that seeds and public keys are read the standard way.
const rfcSeed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const rfcPublic = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');

describe('keys', () => {
  test('generateKeyPair: whsk_ is base64 of seed + public key (Svix layout), whpk_ of the 32-byte public key', () => {
    assert.match(secretKey, /^whsk_[A-Za-z0-9+/]+=*$/);
    assert.match(publicKey, /^whpk_[A-Za-z0-9+/]+=*$/);
    const sk = Buffer.from(secretKey.slice(5), 'base64');
    const pk = Buffer.from(publicKey.slice(5), 'base64');
    assert.equal(sk.length, 64);
    assert.equal(pk.length, 32);
    assert.deepEqual(sk.subarray(32), pk);
    assert.equal(publicKeyOf(secretKey), publicKey);
    assert.notEqual(generateKeyPair().secretKey, secretKey);
  });

  test('the RFC 8032 seed yields the RFC 8032 public key, as a 32-byte seed or in the 64-byte layout', () => {
    const expected = 'whpk_' + rfcPublic.toString('base64');
    assert.equal(publicKeyOf('whsk_' + rfcSeed.toString('base64')), expected);
    assert.equal(publicKeyOf('whsk_' + Buffer.concat([rfcSeed, rfcPublic]).toString('base64')), expected);
  });

  test('malformed signing keys are rejected when signing', () => {
    const wrongHalf = Buffer.concat([rfcSeed, Buffer.alloc(32)]).toString('base64');
    assert.throws(() => sign('whsk_' + wrongHalf, msgId, ts, body), /public half does not match/);
    assert.throws(() => sign('whsk_' + Buffer.alloc(48).toString('base64'), msgId, ts, body), TypeError);
    assert.throws(() => sign('whsk_not base64', msgId, ts, body), TypeError);
    assert.throws(() => sign(publicKey, msgId, ts, body), /Cannot sign with a "whpk_" public key/);
  });
});

test('sign with whsk_ produces one v1a entry: a 64-byte ed25519 signature over msg_id.timestamp.payload', async () => {
  const entry = sign(secretKey, msgId, ts, body);
  assert.match(entry, /^v1a,[A-Za-z0-9+/]{86}==$/);
  // Checked with Web Crypto directly, independent of our parsing code.
  const key = await crypto.subtle.importKey('raw', Buffer.from(publicKey.slice(5), 'base64'), { name: 'Ed25519' }, false, ['verify']);
  const content = new TextEncoder().encode(`${msgId}.${ts}.${body}`);
  assert.equal(await crypto.subtle.verify('Ed25519', key, Buffer.from(entry.slice(4), 'base64'), content), true);
  assert.equal(await crypto.subtle.verify('Ed25519', key, Buffer.from(entry.slice(4), 'base64'), content.subarray(1)), false);
  // ed25519 is deterministic, and bytes and string payloads sign the same content.
  assert.equal(sign(secretKey, msgId, ts, Buffer.from(body)), entry);
});

for (const [label, v] of verifiers) {
  describe(`${label} with v1a`, () => {
    test('round trip with the whpk_ public key', async () => {
      assert.deepEqual(await v(body, headersFor(sign(secretKey, msgId, ts, body)), publicKey, opts), parsed);
    });

    test('tampered body, id or timestamp, or another key pair → no_matching_signature', async () => {
      const sig = sign(secretKey, msgId, ts, body);
      await assertRejectsCode(v(body.replace('c_1', 'c_2'), headersFor(sig), publicKey, opts), 'no_matching_signature', /No matching v1a signature/);
      await assertRejectsCode(v(body, headersFor(sig, 'msg_other'), publicKey, opts), 'no_matching_signature');
      await assertRejectsCode(v(body, headersFor(sig, msgId, ts + 1), publicKey, opts), 'no_matching_signature');
      await assertRejectsCode(v(body, headersFor(sig), generateKeyPair().publicKey, opts), 'no_matching_signature');
      const flipped = Buffer.from(sig.slice(4), 'base64');
      flipped[10]! ^= 1;
      await assertRejectsCode(v(body, headersFor(`v1a,${flipped.toString('base64')}`), publicKey, opts), 'no_matching_signature');
    });

    test('a whsec_ secret ignores v1a entries, and a whpk_ key ignores v1 entries', async () => {
      const hmacSecret = generateSecret();
      await assertRejectsCode(v(body, headersFor(sign(secretKey, msgId, ts, body)), hmacSecret, opts), 'no_matching_signature', /No v1 signature present/);
      await assertRejectsCode(v(body, headersFor(sign(hmacSecret, msgId, ts, body)), publicKey, opts), 'no_matching_signature', /No v1a signature present/);
    });

    test('a mixed header (migration) verifies with either kind of key, or a list holding one', async () => {
      const hmacSecret = generateSecret();
      const header = signatureHeader([hmacSecret, secretKey], msgId, ts, body);
      assert.equal(header.split(' ').length, 2);
      assert.deepEqual(await v(body, headersFor(header), hmacSecret, opts), parsed);
      assert.deepEqual(await v(body, headersFor(header), publicKey, opts), parsed);
      assert.deepEqual(await v(body, headersFor(header), [generateKeyPair().publicKey, generateSecret(), publicKey], opts), parsed);
    });

    test('malformed v1a entries are skipped; a valid one later still passes', async () => {
      const valid = sign(secretKey, msgId, ts, body);
      const header = `v1a,short v1a,!!notbase64!! v1a,${Buffer.alloc(64).toString('base64')} ${valid}`;
      assert.deepEqual(await v(body, headersFor(header), publicKey, opts), parsed);
      await assertRejectsCode(v(body, headersFor('v1a,short v1a,%%%'), publicKey, opts), 'no_matching_signature', /No matching/);
    });

    test('whsk_ or a malformed whpk_ as the verification key → invalid_secret', async () => {
      const headers = headersFor(sign(secretKey, msgId, ts, body));
      await assertRejectsCode(v(body, headers, secretKey, opts), 'invalid_secret', /private signing key/);
      await assertRejectsCode(v(body, headers, 'whpk_' + Buffer.alloc(31).toString('base64'), opts), 'invalid_secret', /32-byte/);
      await assertRejectsCode(v(body, headers, 'whpk_', opts), 'invalid_secret');
    });
  });
}

test('reference verifiers still accept the v1 entry of a header that also carries v1a', () => {
  const hmacSecret = generateSecret();
  const now = Math.floor(Date.now() / 1000);
  const header = signatureHeader([secretKey, hmacSecret], msgId, now, body);
  assert.deepEqual(new StdWebhook(hmacSecret).verify(body, headersFor(header, msgId, now)), parsed);
});
