// Finds the exact source text of one top-level member of a JSON object, so a message
// payload can be stored and delivered byte for byte as the caller wrote it rather than
// re-serialised. The input has already been accepted by JSON.parse.

function skipWhitespace(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\n' || s[i] === '\r' || s[i] === '\t')) i++;
  return i;
}

function skipString(s: string, i: number): number {
  // s[i] is the opening quote.
  i++;
  while (i < s.length) {
    const c = s[i];
    if (c === '\\') i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  return i;
}

function skipValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return skipString(s, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < s.length) {
      const ch = s[i];
      if (ch === '"') {
        i = skipString(s, i);
        continue;
      }
      if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  // number, true, false, null
  while (i < s.length && !',}] \n\r\t'.includes(s[i]!)) i++;
  return i;
}

/** The raw text of `key` in the top-level object `json`; the last one wins, as in JSON.parse. */
export function rawMember(json: string, key: string): string | null {
  let i = skipWhitespace(json, 0);
  if (json[i] !== '{') return null;
  i = skipWhitespace(json, i + 1);
  let found: string | null = null;
  while (i < json.length && json[i] !== '}') {
    const keyEnd = skipString(json, i);
    // A name without escapes is its text between the quotes: no parse needed.
    const text = json.slice(i + 1, keyEnd - 1);
    const name = text.includes('\\') ? (JSON.parse(json.slice(i, keyEnd)) as string) : text;
    i = skipWhitespace(json, keyEnd);
    i = skipWhitespace(json, i + 1); // past ':'
    const valueEnd = skipValue(json, i);
    if (name === key) found = json.slice(i, valueEnd);
    i = skipWhitespace(json, valueEnd);
    if (json[i] === ',') i = skipWhitespace(json, i + 1);
  }
  return found;
}

// --- a checking scan --------------------------------------------------------------------
//
// A message body's payload is kept as text: it is stored and delivered as sent, and parsing
// it only to throw the tree away costs time and, with many large bodies in flight, several
// times their size in heap (measured: 50 concurrent 1 MB messages grew the process by
// 300-450 MB while their trees waited for the commit). So the body is checked for JSON
// syntax by a scan that allocates nothing, and only the envelope around the payload is
// parsed. The scan accepts no text that JSON.parse refuses; anything it does not accept is
// left to JSON.parse, whose answer (or error) then stands.

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isHex = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

function ws(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) i++;
    else return i;
  }
}

// The next quote, backslash or control character; `test` leaves lastIndex just past it.
const STRING_STOP = /["\\\x00-\x1f]/g;

/** The end of the string starting at s[i] (a quote), or -1. */
function checkString(s: string, i: number): number {
  i++;
  for (let n = 0; ; n++) {
    if (n === 32) {
      // A long string: the regular expression engine scans it several times faster.
      STRING_STOP.lastIndex = i;
      if (!STRING_STOP.test(s)) return -1;
      i = STRING_STOP.lastIndex - 1;
      n = 0;
    }
    const c = s.charCodeAt(i);
    if (c === 34) return i + 1;
    if (c === 92) {
      const e = s.charCodeAt(i + 1);
      if (e === 117) {
        if (!(isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) && isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5)))) return -1;
        i += 6;
      } else if (e === 34 || e === 92 || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
        i += 2;
      } else return -1;
    } else if (c >= 32) i++;
    else return -1; // a control character, or the end of the text (NaN)
  }
}

/** The end of the number starting at s[i], or -1. */
function checkNumber(s: string, i: number): number {
  if (s.charCodeAt(i) === 45) i++;
  const first = s.charCodeAt(i);
  if (first === 48) i++;
  else if (first >= 49 && first <= 57) while (isDigit(s.charCodeAt(++i)));
  else return -1;
  if (s.charCodeAt(i) === 46) {
    if (!isDigit(s.charCodeAt(++i))) return -1;
    while (isDigit(s.charCodeAt(++i)));
  }
  const e = s.charCodeAt(i);
  if (e === 101 || e === 69) {
    const sign = s.charCodeAt(++i);
    if (sign === 43 || sign === 45) i++;
    if (!isDigit(s.charCodeAt(i))) return -1;
    while (isDigit(s.charCodeAt(++i)));
  }
  return i;
}

/** Past `"name"\s*:\s*` at s[i], or -1. */
function checkName(s: string, i: number): number {
  if (s.charCodeAt(i) !== 34) return -1;
  i = ws(s, checkString(s, i));
  return i > 0 && s.charCodeAt(i) === 58 ? ws(s, i + 1) : -1;
}

/**
 * The end of the JSON value starting at s[i], or -1 when it is not valid JSON. Iterative,
 * so deep nesting needs no stack; `open` holds, per open container, 1 for an object.
 */
function checkValue(s: string, i: number): number {
  const open: number[] = [];
  for (;;) {
    // A value starts at i.
    const c = s.charCodeAt(i);
    if (c === 123) {
      i = ws(s, i + 1);
      if (s.charCodeAt(i) === 125) i++;
      else {
        open.push(1);
        i = checkName(s, i);
        if (i < 0) return -1;
        continue;
      }
    } else if (c === 91) {
      i = ws(s, i + 1);
      if (s.charCodeAt(i) === 93) i++;
      else {
        open.push(0);
        continue;
      }
    } else if (c === 34) i = checkString(s, i);
    else if (c === 116) i = s.startsWith('true', i) ? i + 4 : -1;
    else if (c === 102) i = s.startsWith('false', i) ? i + 5 : -1;
    else if (c === 110) i = s.startsWith('null', i) ? i + 4 : -1;
    else i = checkNumber(s, i);
    if (i < 0) return -1;
    // A value ended at i: close what it ends, up to the next value.
    for (;;) {
      if (open.length === 0) return i;
      i = ws(s, i);
      const d = s.charCodeAt(i);
      const inObject = open[open.length - 1] === 1;
      if (d === 44) {
        i = ws(s, i + 1);
        if (inObject) {
          i = checkName(s, i);
          if (i < 0) return -1;
        }
        break;
      }
      if (d !== (inObject ? 125 : 93)) return -1;
      open.pop();
      i++;
    }
  }
}

/**
 * A JSON object's text split around one member: `value` is the exact text of `key`'s value
 * (the last one, as in JSON.parse), and `rest` the object with that value replaced by `{}`.
 * Null unless the text is a valid JSON object whose `key` is an object: the caller then
 * parses the whole text as usual.
 */
export function splitMember(json: string, key: string): { value: string; rest: string } | null {
  let i = ws(json, 0);
  if (json.charCodeAt(i) !== 123) return null;
  i = ws(json, i + 1);
  const spans: number[] = [];
  if (json.charCodeAt(i) === 125) i++;
  else {
    for (;;) {
      if (json.charCodeAt(i) !== 34) return null;
      const nameEnd = checkString(json, i);
      if (nameEnd < 0) return null;
      const raw = json.slice(i + 1, nameEnd - 1);
      const name = raw.includes('\\') ? (JSON.parse(json.slice(i, nameEnd)) as string) : raw;
      i = ws(json, nameEnd);
      if (json.charCodeAt(i) !== 58) return null;
      const start = ws(json, i + 1);
      const end = checkValue(json, start);
      if (end < 0) return null;
      if (name === key) spans.push(start, end);
      i = ws(json, end);
      const c = json.charCodeAt(i);
      if (c === 125) {
        i++;
        break;
      }
      if (c !== 44) return null;
      i = ws(json, i + 1);
    }
  }
  if (ws(json, i) !== json.length || spans.length === 0) return null;
  const last = spans.length - 2;
  if (json.charCodeAt(spans[last]!) !== 123) return null;
  let rest = '';
  let from = 0;
  for (let k = 0; k < spans.length; k += 2) {
    rest += json.slice(from, spans[k]) + '{}';
    from = spans[k + 1]!;
  }
  rest += json.slice(from);
  return { value: json.slice(spans[last]!, spans[last + 1]), rest };
}
