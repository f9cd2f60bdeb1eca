// Limits on the JSON that comes in, checked on the text itself.
//
// JSON.parse builds a value of any depth without trouble, but JSON.stringify, Ajv, the
// response serialiser and every other walk over a value recurse: a 10 KB body of 5,000
// nested arrays parses, is stored, and then fails each time it is presented. So depth is
// refused where JSON enters, before anything is written.

/**
 * Most levels of objects and arrays one JSON document may nest, counting its own outermost
 * level: a message body is level 1, its payload level 2. The same limit serde_json applies
 * by default, so a document Svix accepts is not refused here; far below the depth at which
 * a recursive walk runs out of stack (thousands of levels).
 */
export const MAX_JSON_DEPTH = 128;

/** Index of the closing quote of the string whose opening quote is at `open` (or the length). */
function stringEnd(text: string, open: number): number {
  let i = open;
  for (;;) {
    i = text.indexOf('"', i + 1);
    if (i === -1) return text.length;
    // Escaped when an odd number of backslashes comes before it.
    let slashes = 0;
    while (text.charCodeAt(i - 1 - slashes) === 0x5c) slashes++;
    if ((slashes & 1) === 0) return i;
  }
}

/**
 * Where in `text` a level deeper than `max` opens (the index of its `{` or `[`), or -1 when
 * none does. One pass, no recursion, nothing allocated: this runs on every JSON body.
 * Strings are skipped whole, so brackets inside them do not count. Meant for text that
 * JSON.parse has accepted; on anything else it still ends, with some answer.
 */
export function tooDeepAt(text: string, max = MAX_JSON_DEPTH): number {
  // max + 1 levels take at least max + 1 characters.
  if (text.length <= max) return -1;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) i = stringEnd(text, i);
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return i;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return -1;
}

/**
 * The same check on the UTF-8 bytes of a document, for the request body parser: a loop
 * over bytes is the cheaper of the two (no two-byte string to index), and the body is at
 * hand as bytes before it is decoded. Every delimiter is ASCII and no byte of a multi-byte
 * character is below 0x80, so the bytes can be scanned as they are. Gives a byte offset.
 */
export function tooDeepInBytes(bytes: Uint8Array, max = MAX_JSON_DEPTH): number {
  if (bytes.length <= max) return -1;
  let depth = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c === 0x22) {
      // A string, skipped whole: an escape's next byte is never its end.
      for (i++; i < n; i++) {
        const d = bytes[i]!;
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return i;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return -1;
}

/**
 * The path to the value that starts at `at` in the JSON document `text`: the key or index
 * taken at each enclosing level, as problem locations name fields (`["a", "0", "b"]`).
 * Only for answering an error; `text` must be valid JSON.
 */
export function pathAt(text: string, at: number): string[] {
  const levels: { array: boolean; index: number; key: string }[] = [];
  for (let i = 0; i < at; i++) {
    const c = text.charCodeAt(i);
    const top = levels[levels.length - 1];
    if (c === 0x22) {
      const end = stringEnd(text, i);
      if (top !== undefined && !top.array) {
        // A member's name when a colon follows.
        let j = end + 1;
        while (j < text.length && (text[j] === ' ' || text[j] === '\n' || text[j] === '\r' || text[j] === '\t')) j++;
        if (text[j] === ':') top.key = nameOf(text.slice(i, end + 1));
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) levels.push({ array: c === 0x5b, index: 0, key: '' });
    else if (c === 0x7d || c === 0x5d) levels.pop();
    else if (c === 0x2c && top?.array === true) top.index++;
  }
  return levels.map((l) => (l.array ? String(l.index) : l.key));
}

function nameOf(quoted: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return quoted.slice(1, -1);
  }
}

/** The message for a document nested too deep. */
export function tooDeepMessage(what: string, max = MAX_JSON_DEPTH): string {
  return `${what} nests objects and arrays more than ${max} levels deep; JSON input may nest at most ${max} levels`;
}

/**
 * The depth of a value already parsed, up to `max + 1` (it stops looking once past `max`).
 * Walks with a stack of its own, not by recursion, so any depth is safe to ask about: for
 * values read back from storage, written before the limit was checked on the way in.
 */
export function depthExceeds(value: unknown, max = MAX_JSON_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
