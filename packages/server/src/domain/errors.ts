// One error type per failure kind; api/ maps each to an HTTP status exactly once.

export class NotFoundError extends Error {
  constructor(readonly entity: string, readonly ref: string) {
    super(`${entity} not found: ${ref}`);
  }
}

export class ConflictError extends Error {
  constructor(message: string, readonly code = 'conflict') {
    super(message);
  }
}

export interface FieldProblem {
  loc: string[];
  msg: string;
  type: string;
}

/** Input that parsed but breaks a rule: answered 422 with one entry per problem. */
export class ValidationError extends Error {
  constructor(readonly problems: FieldProblem[]) {
    super(problems.map((p) => `${p.loc.join('.')}: ${p.msg}`).join('; '));
  }

  static field(loc: string[], msg: string, type = 'value_error'): ValidationError {
    return new ValidationError([{ loc, msg, type }]);
  }
}

export class PayloadTooLargeError extends Error {
  constructor(readonly size: number, readonly limit: number, message?: string) {
    super(message ?? `payload is ${size} bytes; the limit is ${limit} bytes`);
  }
}

export class BadRequestError extends Error {
  constructor(message: string, readonly code = 'bad_request') {
    super(message);
  }
}

/** The server cannot do it now (its database is down, its disk full): answered 503 with Retry-After. */
export class UnavailableError extends Error {
  constructor(message: string, readonly retryAfterSeconds = 5) {
    super(message);
  }
}

/** A body of a type, or in a charset, that the route does not take: answered 415. */
export class UnsupportedMediaTypeError extends Error {}
