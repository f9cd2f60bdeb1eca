import { RE2JS } from 're2js';

/**
 * The regular expressions of event type schemas (`pattern`, `patternProperties`,
 * `propertyNames`) come from whoever writes the schema and run on every message. JavaScript's
 * RegExp backtracks: `^(a+)+$` takes 2^n steps on n "a"s and a "!", holding the event loop
 * for minutes at n = 30. They run on RE2JS instead, a pure JavaScript port of RE2 whose
 * matching time is linear in the input whatever the pattern.
 *
 * JSON Schema patterns are ECMA-262 (with the u flag, as Ajv compiles them). A pattern must
 * first be valid there; it is then written in RE2 syntax with ECMA-262's meaning where the two
 * differ (\s, ., \u escapes, named groups). What RE2 cannot run in linear time
 * (backreferences, lookahead, lookbehind) or at all (a repeat count over 1000) is refused
 * with a PatternError, so a schema that uses it is refused when written rather than stored
 * and never checked.
 */
export class PatternError extends Error {}

// ECMA-262's WhiteSpace and LineTerminator, what its \s matches (RE2's \s is ASCII only).
const SPACES = '\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';
// ECMA-262's . without the s flag: anything but a line terminator (RE2's stops at \n only).
const DOT = '[^\\n\\r\\x{2028}\\x{2029}]';
const ANY = '\\x{0}-\\x{10FFFF}';

const hex = (cp: number) => `\\x{${cp.toString(16).toUpperCase()}}`;
const isHigh = (n: number) => n >= 0xd800 && n <= 0xdbff;
const isLow = (n: number) => n >= 0xdc00 && n <= 0xdfff;

/** `pattern` (ECMA-262, u flag) in RE2 syntax with the same meaning, or a PatternError saying why there is none. */
export function toRe2Syntax(pattern: string): string {
  try {
    // Parsing only: nothing is matched, so this cannot backtrack.
    new RegExp(pattern, 'u');
  } catch (err) {
    throw new PatternError(`"${pattern}" is not a valid ECMA-262 regular expression: ${(err as Error).message}`);
  }
  const unsupported = (what: string) =>
    new PatternError(`"${pattern}" uses ${what}, which schema patterns cannot use: they run on RE2, a linear-time engine without backreferences or lookaround`);
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1]!;
      i++;
      if (n >= '1' && n <= '9') throw unsupported(`a backreference (\\${n})`);
      if (n === 'k') throw unsupported('a named backreference (\\k<…>)');
      if (n === 's') out += inClass ? SPACES : `[${SPACES}]`;
      else if (n === 'S' && !inClass) out += `[^${SPACES}]`;
      else if (n === 'b' && inClass) out += hex(8);
      else if (n === 'c') out += hex(pattern.charCodeAt(++i) % 32);
      else if (n === 'u') {
        let cp: number;
        if (pattern[i + 1] === '{') {
          const end = pattern.indexOf('}', i);
          cp = parseInt(pattern.slice(i + 2, end), 16);
          i = end;
        } else {
          cp = parseInt(pattern.slice(i + 1, i + 5), 16);
          i += 4;
          // In u mode an escaped surrogate pair is one code point.
          const low = /^\\u([0-9a-fA-F]{4})/.exec(pattern.slice(i + 1));
          if (isHigh(cp) && low !== null && isLow(parseInt(low[1]!, 16))) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (parseInt(low[1]!, 16) - 0xdc00);
            i += 6;
          }
        }
        out += hex(cp);
      } else if (n === 'p' || n === 'P') {
        // \p{Script=Greek}, \p{sc=Greek}, \p{General_Category=L}: RE2 takes the bare value.
        const end = pattern.indexOf('}', i);
        const name = pattern.slice(i + 2, end).replace(/^(Script|sc|General_Category|gc)=/, '');
        out += `\\${n}{${name}}`;
        i = end;
      } else if (n === '0') out += hex(0);
      else if (n === '/') out += '/';
      else out += `\\${n}`;
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      // [] matches nothing and [^] anything in ECMA-262; RE2 has neither spelling.
      if (pattern.startsWith('[]', i)) {
        out += `[^${ANY}]`;
        i += 1;
      } else if (pattern.startsWith('[^]', i)) {
        out += `[${ANY}]`;
        i += 2;
      } else {
        inClass = true;
        out += c;
        if (pattern[i + 1] === '^') out += pattern[++i];
        // A ] first in a class is a literal in RE2 but closes an empty class in ECMA-262,
        // which the cases above took.
      }
    } else if (c === '.') out += DOT;
    else if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2, i + 4);
      if (rest.startsWith('=') || rest.startsWith('!')) throw unsupported('a lookahead (?= or (?!');
      if (rest === '<=' || rest === '<!') throw unsupported('a lookbehind (?<= or (?<!');
      if (rest.startsWith('<')) {
        out += '(?P<';
        i += 2;
      } else out += c;
    } else out += c;
  }
  return out;
}

/** A compiled pattern with RegExp's `test`. */
export interface LinearRegExp {
  test(s: string): boolean;
}

/** Compiles an ECMA-262 pattern for linear-time matching, or throws PatternError. */
export function compileLinear(pattern: string): LinearRegExp {
  const translated = toRe2Syntax(pattern);
  let re: RE2JS;
  try {
    re = RE2JS.compile(translated);
  } catch (err) {
    throw new PatternError(`"${pattern}" cannot be run by the linear-time engine: ${(err as Error).message}`);
  }
  return { test: (s) => re.test(s) };
}

/**
 * For Ajv's `code.regExp`. The key Ajv shares compiled patterns by is toString(): the
 * pattern itself. `code` would name the engine in standalone code, which is not generated.
 */
export const linearRegExpEngine = Object.assign(
  (pattern: string, _flags: string) => {
    const re = compileLinear(pattern);
    return { test: (s: string) => re.test(s), toString: () => pattern };
  },
  { code: 'require("re2js").RE2JS.compile' },
);
