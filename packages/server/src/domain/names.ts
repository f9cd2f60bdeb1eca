import { ValidationError } from './errors.js';

// The pattern Svix gives uids, event ids and event type names.
const NAME = /^[a-zA-Z0-9\-_.]+$/;

export function isName(value: string): boolean {
  return value.length >= 1 && value.length <= 256 && NAME.test(value);
}

/** For names that arrive outside a validated body, such as a uid taken from the path by an upsert. */
export function checkName(value: string, loc: string[]): void {
  if (!isName(value)) {
    throw ValidationError.field(loc, `"${value}" must be 1 to 256 letters, digits, "-", "_" or "."`, 'value_error.str.regex');
  }
}
