// Which payloads erasure takes for a person's: the pure rule, apart from any store.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { payloadNames, retentionMs } from '../src/domain/erasure.js';

describe('payloadNames', () => {
  it('finds an identifier at the top level and under data, whatever the schema', () => {
    assert.equal(payloadNames({ user_id: 'U1' }, { user_id: 'U1' }, []), true);
    assert.equal(payloadNames({ data: { user_id: 'U1' } }, { user_id: 'U1' }, []), true);
    assert.equal(payloadNames({ data: { user_id: 'U2' } }, { user_id: 'U1' }, []), false);
    assert.equal(payloadNames({ other: { user_id: 'U1' } }, { user_id: 'U1' }, []), false, 'not at any depth without a schema saying so');
  });

  it("follows the schema's x-identifier paths ending in the identifier's name, through arrays", () => {
    const paths = [['subject', 'mrn'], ['members', '*', 'user_id'], ['subject', 'id']];
    assert.equal(payloadNames({ subject: { mrn: 'M-1' } }, { mrn: 'M-1' }, paths), true);
    assert.equal(payloadNames({ members: [{ user_id: 'U0' }, { user_id: 'U1' }] }, { user_id: 'U1' }, paths), true);
    assert.equal(payloadNames({ subject: { id: 'M-1' } }, { mrn: 'M-1' }, paths), false, "another identifier's path is not searched for this one");
  });

  it('matches any one of several identifiers, numbers by their decimal text, and nothing inherited', () => {
    assert.equal(payloadNames({ email: 'a@b' }, { user_id: 'U1', email: 'a@b' }, []), true);
    assert.equal(payloadNames({ user_id: 42 }, { user_id: '42' }, []), true);
    assert.equal(payloadNames({ user_id: { id: 'U1' } }, { user_id: 'U1' }, []), false);
    assert.equal(payloadNames({}, { constructor: 'function Object() { [native code] }' }, []), false);
    assert.equal(payloadNames([{ user_id: 'U1' }], { user_id: 'U1' }, []), false);
    assert.equal(payloadNames(null, { user_id: 'U1' }, []), false);
  });
});

describe('retentionMs', () => {
  it('takes hours over days over the default', () => {
    assert.equal(retentionMs(2, 5, 1), 2 * 3_600_000);
    assert.equal(retentionMs(null, 5, 1), 5 * 86_400_000);
    assert.equal(retentionMs(undefined, undefined, 7), 7);
  });
});
