import assert from 'node:assert/strict';
import { WebhookVerificationError, type WebhookVerificationErrorCode } from '../src/index.js';

/** Asserts fn throws a WebhookVerificationError with this code and a message mentioning `messagePart`. */
export function assertCode(fn: () => unknown, code: WebhookVerificationErrorCode, messagePart?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WebhookVerificationError, `expected WebhookVerificationError, got ${String(err)}`);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'WebhookVerificationError');
    assert.equal(err.code, code);
    if (messagePart) assert.match(err.message, messagePart);
    return true;
  });
}

/** Asserts the promise rejects with a WebhookVerificationError with this code (async twin of assertCode). */
export async function assertRejectsCode(
  promise: Promise<unknown>,
  code: WebhookVerificationErrorCode,
  messagePart?: RegExp,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof WebhookVerificationError, `expected WebhookVerificationError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (messagePart) assert.match(err.message, messagePart);
    return true;
  });
}
