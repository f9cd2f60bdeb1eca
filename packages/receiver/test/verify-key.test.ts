import { describe, test } from 'node:test';
import { verifyKey, verifyKeyAsync, type WebhookHeaders } from '../src/index.js';
import { assertRejectsCode } from './helpers.js';

type KeyVerifier = (headers: WebhookHeaders, key: string, headerName?: string) => Promise<void>;
const verifiers: [string, KeyVerifier][] = [
  ['verifyKey', async (...args) => verifyKey(...args)],
  ['verifyKeyAsync', verifyKeyAsync],
];
const key = 'mtp_4f9a2c81d7e3b6a05f';

for (const [label, v] of verifiers) {
  describe(label, () => {
    test('accepts the key in x-webhook-key, in any header-name casing or a Fetch Headers', async () => {
      await v({ 'x-webhook-key': key }, key);
      await v({ 'X-Webhook-Key': key }, key);
      await v(new Headers({ 'X-WEBHOOK-KEY': key }), key);
    });

    test('a custom header name', async () => {
      await v({ 'x-api-key': key }, key, 'X-Api-Key');
      await assertRejectsCode(v({ 'x-webhook-key': key }, key, 'x-api-key'), 'missing_headers', /x-api-key/);
    });

    test('a wrong key → invalid_key, whether longer, shorter, a prefix or the same length', async () => {
      for (const wrong of [key + 'x', key.slice(0, -1), key.slice(0, 3), key.replace('4', '5'), key.toUpperCase()]) {
        await assertRejectsCode(v({ 'x-webhook-key': wrong }, key), 'invalid_key', /x-webhook-key/);
      }
    });

    test('a missing or empty header → missing_headers; an empty configured key → invalid_secret', async () => {
      await assertRejectsCode(v({}, key), 'missing_headers');
      await assertRejectsCode(v({ 'x-webhook-key': '' }, key), 'missing_headers');
      await assertRejectsCode(v({ 'x-webhook-key': '' }, ''), 'invalid_secret');
    });
  });
}

for (const [label, v] of verifiers) {
  test(`${label}: a configured key that is not a non-empty string → invalid_secret, not a TypeError`, async () => {
    for (const bad of [undefined, null, 42, '']) {
      await assertRejectsCode(v({ 'x-webhook-key': key }, bad as unknown as string), 'invalid_secret', /^Invalid key: expected a non-empty string$/);
    }
  });
}
