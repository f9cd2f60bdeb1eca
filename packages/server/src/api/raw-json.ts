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
