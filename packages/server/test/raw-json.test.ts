// splitMember checks a message body's JSON syntax itself, so the payload need not be
// parsed: it must never accept text that JSON.parse refuses, and what it returns must be
// what JSON.parse would have made of the same text.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { splitMember } from '../src/api/raw-json.js';

// Pieces of JSON and of near-JSON, inserted into valid bodies to make invalid ones.
const PIECES = ['{', '}', '[', ']', ',', ':', '"', '\\', '\\u00e9', '\\u12', '\\x', '0', '01', '-', '-0', '1.', '.5', '1e', '1e+', '1E-3',
  'true', 'tru', 'null', 'nul', 'false', ' ', '\n', '\t', '\u000b', '\u0001', '\u00a0', '\ufeff', 'é', '\ud800', '😀', '"payload"', '"pay\\u006coad"'];

const whitespace = fc.constantFrom('', ' ', '\n', '\r\n\t ');
// JSON text of objects, with whitespace, escapes, long strings and numbers in every form.
const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string; object: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('0', '-0', '12', '-3.25', '1e9', '2.5E-3', '1e400', 'true', 'false', 'null', '""', '"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00"'),
    fc.string({ unit: 'grapheme', maxLength: 80 }).map((s) => JSON.stringify(s)),
    fc.string({ minLength: 30, maxLength: 300 }).map((s) => JSON.stringify(s)),
    fc.array(tie('value'), { maxLength: 4 }).chain((items) => whitespace.map((w) => `[${w}${items.join(`${w},${w}`)}${w}]`)),
    tie('object'),
  ),
  object: fc
    .array(fc.tuple(fc.constantFrom('"a"', '"payload"', '"b\\""', '"\\u0070ayload"'), tie('value')), { maxLength: 4 })
    .chain((members) => whitespace.map((w) => `{${w}${members.map(([k, v]) => `${k}${w}:${w}${v}`).join(`${w},${w}`)}${w}}`)),
})).object;

const body = fc
  .tuple(jsonText, fc.option(jsonText), whitespace)
  .map(([payload, second, w]) => `${w}{"eventType":"a.b",${w}"payload"${w}:${w}${payload}${second === null ? '' : `,"payload":${second}`},"tags":["x"]}${w}`);
const mutated = fc
  .tuple(body, fc.array(fc.tuple(fc.nat(), fc.constantFrom(...PIECES), fc.boolean()), { minLength: 1, maxLength: 3 }))
  .map(([text, edits]) => {
    let s = text;
    for (const [at, piece, replace] of edits) {
      const i = at % (s.length + 1);
      s = s.slice(0, i) + piece + s.slice(replace ? i + 1 : i);
    }
    return s;
  });

function agreesWithParse(text: string): void {
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = undefined;
  }
  const split = splitMember(text, 'payload');
  if (split === null) return; // left to JSON.parse, whose answer stands
  assert.ok(parsed !== undefined, `accepted text JSON.parse refuses: ${JSON.stringify(text)}`);
  assert.equal(typeof parsed.payload, 'object');
  assert.ok(parsed.payload !== null && !Array.isArray(parsed.payload));
  assert.deepEqual(JSON.parse(split.value), parsed.payload);
  assert.deepEqual(JSON.parse(split.rest), { ...parsed, payload: {} });
  // The payload's text is the body's own, not a re-serialisation.
  assert.ok(text.includes(split.value));
}

describe('splitMember', () => {
  it('splits every valid body whose payload is an object, as JSON.parse reads it', () => {
    fc.assert(
      fc.property(body, (text) => {
        assert.notEqual(splitMember(text, 'payload'), null, text);
        agreesWithParse(text);
      }),
      { numRuns: 3000 },
    );
  });

  it('never accepts text JSON.parse refuses', () => {
    fc.assert(fc.property(mutated, agreesWithParse), { numRuns: 20_000 });
  });

  it('leaves bodies whose payload is not an object, or missing, to JSON.parse', () => {
    for (const text of ['{"payload":[1]}', '{"payload":"x"}', '{"payload":null}', '{"eventType":"a"}', '[]', '{"payload":{}} x', '{"payload":{},}']) {
      assert.equal(splitMember(text, 'payload'), null, text);
    }
  });

  it('keeps a long payload whole: strings of any length, escapes and characters beyond Latin-1', () => {
    const payload = JSON.stringify({ blob: 'x'.repeat(300_000) + '"\\\n😀\u2028', n: [1.5e3, -0, 0.25] });
    const split = splitMember(`{"payload": ${payload} ,"eventType":"a"}`, 'payload')!;
    assert.equal(split.value, payload);
    assert.equal(split.rest, '{"payload": {} ,"eventType":"a"}');
    // A control character inside the long string is refused, wherever it falls.
    assert.equal(splitMember(`{"payload":{"s":"${'y'.repeat(100_000)}\u0001"}}`, 'payload'), null);
    // Nesting far deeper than any stack still ends, with an answer.
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    assert.notEqual(splitMember(`{"payload":{"d":${deep}}}`, 'payload'), null);
  });
});
