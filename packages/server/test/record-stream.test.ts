// Cutting a streamed body into records: every split point, both formats, and the refusals.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RecordSplitter } from '../src/domain/record-stream.js';
import { BadRequestError, PayloadTooLargeError } from '../src/domain/errors.js';

// Strings holding brackets, braces, commas, escaped quotes and backslashes, and characters
// of two, three and four UTF-8 bytes, so a split can land inside any of them.
const RECORDS = [
  '{"id":"a","note":"[not] {an} \\"array\\", really\\\\","t":"2024-03-01T00:00:00Z"}',
  '{"id":"b","nested":{"list":[1,[2,{"x":"]"}]],"e":{}},"name":"Zoë — 早上好 🏃"}',
  '{ "id" : "c" , "empty" : [] }',
];

function run(format: 'json' | 'ndjson', body: string, cuts: number[], max = 1 << 20): string[] {
  const bytes = Buffer.from(body);
  const s = new RecordSplitter(format, max);
  const out: string[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...s.push(bytes.subarray(at, cut)));
    at = cut;
  }
  out.push(...s.end());
  return out;
}

describe('RecordSplitter', () => {
  it('gives each record of a JSON array exactly as written, wherever the body is cut', () => {
    const body = ` [\n ${RECORDS.join(' ,\n\t')} \n] \n`;
    const length = Buffer.byteLength(body);
    for (let cut = 0; cut <= length; cut++) {
      assert.deepEqual(run('json', body, [cut]), RECORDS, `cut at byte ${cut}`);
    }
    // And one byte at a time.
    assert.deepEqual(run('json', body, Array.from({ length }, (_, i) => i)), RECORDS);
  });

  it('gives each NDJSON line, skipping blank ones and CRLF endings, wherever the body is cut', () => {
    const body = `${RECORDS[0]}\r\n\n  \n${RECORDS[1]}\n${RECORDS[2]}`; // no newline at the end
    const length = Buffer.byteLength(body);
    for (let cut = 0; cut <= length; cut++) {
      assert.deepEqual(run('ndjson', body, [cut]), RECORDS, `cut at byte ${cut}`);
    }
  });

  it('accepts an empty array, and nothing else that is not an array', () => {
    assert.deepEqual(run('json', ' [ ] ', []), []);
    assert.throws(() => run('json', '', []), (e: Error) => e instanceof BadRequestError && /empty/.test(e.message));
    assert.throws(() => run('json', '{"a":1}', []), /must be a JSON array/);
  });

  it('names what is wrong with a malformed array', () => {
    assert.throws(() => run('json', '[{"a":1} {"b":2}]', []), /a "," or "\]" must follow record 1/);
    assert.throws(() => run('json', '[{"a":1},,{"b":2}]', []), /unexpected "," after record 1/);
    assert.throws(() => run('json', '[{"a":1},]', []), /follows a comma after record 1/);
    assert.throws(() => run('json', '[{"a":1}, 7]', []), /record 2 is not a JSON object/);
    assert.throws(() => run('json', '[{"a":1}] x', []), /goes on after the closing/);
    assert.throws(() => run('json', '[{"a":1}, {"b":', [12]), /ended early, inside record 2/);
    assert.throws(() => run('json', '[{"a":1}', []), /closing "\]" is missing/);
  });

  it('refuses a record over the limit as soon as it is that long, in either format', () => {
    const big = `{"x":"${'y'.repeat(200)}"}`;
    for (const [format, body] of [
      ['json', `[{"a":1},${big}]`],
      ['ndjson', `{"a":1}\n${big}\n`],
    ] as const) {
      assert.throws(
        () => run(format, body, [20, 40, 60], 100),
        (e: Error) => e instanceof PayloadTooLargeError && /record 2 is larger than the limit of 100 bytes/.test(e.message),
        format,
      );
    }
    // Exactly at the limit is fine.
    const exact = `{"x":"${'y'.repeat(92)}"}`;
    assert.equal(Buffer.byteLength(exact), 100);
    assert.deepEqual(run('ndjson', exact, [50], 100), [exact]);
  });

  it('refuses a record whose bytes are not UTF-8 rather than decode it altered, wherever the body is cut', () => {
    const bad = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const truncated = Buffer.concat([Buffer.from('{"a":"'), Buffer.from('🏃').subarray(0, 3), Buffer.from('"}')]);
    for (const record of [bad, truncated]) {
      for (const [format, body] of [
        ['json', Buffer.concat([Buffer.from('[{"ok":1},'), record, Buffer.from(']')])],
        ['ndjson', Buffer.concat([Buffer.from('{"ok":1}\n'), record, Buffer.from('\n')])],
      ] as const) {
        for (let cut = 0; cut <= body.length; cut++) {
          const s = new RecordSplitter(format, 1 << 20);
          assert.throws(
            () => [...s.push(body.subarray(0, cut)), ...s.push(body.subarray(cut)), ...s.end()],
            (e: Error) => e instanceof BadRequestError && e.code === 'invalid_utf8' && /record 2 is not valid UTF-8/.test(e.message),
            `${format}, cut at ${cut}`,
          );
        }
      }
    }
  });
});
