// Messages between the SQLite thread and its callers, and how errors cross between them.
// Each side posts an array: the calls made in one turn of the caller's event loop, the
// replies settled in one turn of the thread's, so a busy moment costs one message each
// way rather than one per call.
import { BadRequestError, ConflictError, NotFoundError, ValidationError, type FieldProblem } from '../../domain/errors.js';

export interface Call {
  id: number;
  method: string;
  args: unknown[];
}

export interface EncodedError {
  name: string;
  message: string;
  code?: string;
  entity?: string;
  ref?: string;
  problems?: FieldProblem[];
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: EncodedError };

export function encodeError(err: unknown): EncodedError {
  if (err instanceof NotFoundError) return { name: 'NotFoundError', message: err.message, entity: err.entity, ref: err.ref };
  if (err instanceof ConflictError) return { name: 'ConflictError', message: err.message, code: err.code };
  if (err instanceof ValidationError) return { name: 'ValidationError', message: err.message, problems: err.problems };
  if (err instanceof BadRequestError) return { name: 'BadRequestError', message: err.message, code: err.code };
  const e = err as { name?: string; message?: string; code?: string };
  return { name: e.name ?? 'Error', message: e.message ?? String(err), code: e.code };
}

/** Rebuilds the domain error the store threw, so api/ maps it exactly as before. */
export function decodeError(e: EncodedError): Error {
  switch (e.name) {
    case 'NotFoundError':
      return new NotFoundError(e.entity!, e.ref!);
    case 'ConflictError':
      return new ConflictError(e.message, e.code);
    case 'ValidationError':
      return new ValidationError(e.problems ?? []);
    case 'BadRequestError':
      return new BadRequestError(e.message, e.code);
  }
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  return err;
}
