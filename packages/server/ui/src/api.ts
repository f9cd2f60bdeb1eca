/** One entry of a 422's `detail`: where in the request, and what is wrong there. */
export interface Problem {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** A failed API call: the HTTP status and the server's explanation, ready to show. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** A 422's problems, one by one. */
    readonly problems: Problem[] = [],
  ) {
    super(message);
  }
}

export interface Whoami {
  permissionSource: 'admin' | 'appPortal';
  appId: string | null;
  readOnly: boolean;
  capabilities: string[];
  featureFlags: string[];
  expiresAt: string | null;
  sessionId: string | null;
}

export interface Page<T> {
  data: T[];
  iterator: string | null;
  prevIterator: string | null;
  done: boolean;
}

/** The server's error body as one sentence: 422 lists each field with its problem. */
function explain(status: number, body: unknown): { code: string; message: string } {
  const b = (body ?? {}) as { code?: unknown; detail?: unknown };
  const code = typeof b.code === 'string' ? b.code : `http_${status}`;
  if (Array.isArray(b.detail)) {
    const parts = b.detail.map((d: { loc?: unknown[]; msg?: string }) => {
      const loc = Array.isArray(d.loc) ? d.loc.filter((l) => l !== 'body').join('.') : '';
      return loc === '' ? String(d.msg ?? '') : `${loc}: ${String(d.msg ?? '')}`;
    });
    return { code, message: parts.join('; ') };
  }
  if (typeof b.detail === 'string') return { code, message: b.detail };
  return { code, message: `The server answered ${status}.` };
}

export type Query = Record<string, string | number | boolean | null | undefined | string[]>;

export function qs(q: Query): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.set(k, String(v));
  }
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

export class Api {
  constructor(
    private readonly token: string,
    private readonly onUnauthorized: () => void = () => {},
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit' });
    } catch {
      throw new ApiError(0, 'network', 'The server cannot be reached.');
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const { code, message } = explain(res.status, parsed);
      if (res.status === 401) this.onUnauthorized();
      const detail = (parsed as { detail?: unknown } | undefined)?.detail;
      throw new ApiError(res.status, code, message, Array.isArray(detail) ? (detail as Problem[]) : []);
    }
    return parsed as T;
  }

  get<T>(path: string, q: Query = {}): Promise<T> {
    return this.call<T>('GET', path + qs(q));
  }
  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body);
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PUT', path, body);
  }
  del<T>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }
}

export const ALL_CAPABILITIES = ['ViewBase', 'ViewEndpointSecret', 'ManageEndpointSecret', 'ManageEndpoint', 'CreateAttempts'];

/** What a signed-in view needs: the API, the application, and what the token may do. */
export interface AppCtx {
  api: Api;
  appId: string;
  caps: Set<string>;
  /** Hash prefix of this application's views: "#/" in the portal, "#/apps/<id>/" in the dashboard. */
  base: string;
}

export const can = (ctx: AppCtx, cap: string): boolean => ctx.caps.has(cap);
export const enc = encodeURIComponent;
export const appPath = (ctx: AppCtx, rest = ''): string => `/api/v1/app/${enc(ctx.appId)}${rest}`;
