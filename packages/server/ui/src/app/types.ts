export interface Endpoint {
  id: string;
  url: string;
  description: string;
  uid?: string | null;
  disabled?: boolean;
  eventTypes?: string[] | null;
  filterTypes?: string[] | null;
  channels?: string[] | null;
  rateLimit?: number | null;
  throttleRate?: number | null;
  payloadMode?: 'full' | 'thin';
  maxPayloadBytes?: number | null;
  ordering?: { key: string } | null;
  lastPing?: { ok: boolean; detail: string; at: string } | null;
  webhookKeyHeader?: string | null;
  metadata?: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export interface AppStatus {
  enabled: boolean;
  statusDetail: string;
  processing: number;
  failed: number;
  endpoints: { id: string; url: string; disabled: boolean; lastAttemptAt: string | null; lastStatus: number | null; processing: number; failed: number }[];
}

export interface EventType {
  name: string;
  description: string;
  archived?: boolean;
  deprecated: boolean;
  schemas?: Record<string, unknown> | null;
  groupName?: string | null;
  validate?: boolean;
  featureFlags?: string[] | null;
  createdAt: string;
  updatedAt: string;
}

export interface Message {
  id: string;
  eventId?: string | null;
  eventType: string;
  payload: unknown;
  channels?: string[] | null;
  tags?: string[] | null;
  dataId?: string | null;
  timestamp: string;
  deliverAt?: string | null;
  /** true once the payload was deleted (expunged, erased, or past its retention period). */
  payloadDeleted?: boolean;
}

export interface MessageEndpoint extends Endpoint {
  status: number;
  statusText?: string;
  nextAttempt?: string | null;
}

export interface Attempt {
  id: string;
  msgId: string;
  endpointId: string;
  url: string;
  response: string;
  responseStatusCode: number;
  responseDurationMs: number;
  status: number;
  statusText?: string;
  triggerType: number;
  timestamp: string;
}

export interface Stats {
  success: number;
  pending: number;
  sending: number;
  fail: number;
  canceled: number;
}

export interface Series {
  bucket: 'hour' | 'day';
  data: { start: string; success: number; fail: number; latencyP50Ms: number | null; latencyP95Ms: number | null }[];
}

export interface Backfill {
  id: string;
  userId: string;
  resource: string;
  provider: string;
  chunkSize: number;
  notify: 'each' | 'once';
  status: 'receiving' | 'complete';
  records: number;
  chunks: number;
  eventType: string;
  msgId: string | null;
  createdAt: string;
  updatedAt: string;
  chunkList?: { index: number; startDate: string; endDate: string; records: number; msgId: string | null }[];
}

export interface Application {
  id: string;
  uid?: string | null;
  name: string;
  metadata?: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

/** The types an endpoint subscribes to (Svix's filterTypes; eventTypes is Hookwell's older name). */
export function subscribed(ep: Endpoint): string[] {
  return ep.filterTypes ?? ep.eventTypes ?? [];
}

/** The example of an event type's newest schema version, as send-example would send it. */
export function exampleOf(schemas: Record<string, unknown> | null | undefined): unknown {
  if (schemas === null || schemas === undefined) return undefined;
  const top = schemas as { examples?: unknown };
  const candidates: unknown[] = Array.isArray(top.examples) ? [top] : [];
  for (const v of Object.keys(schemas).sort((x, y) => Number(y) - Number(x))) candidates.push(schemas[v]);
  for (const c of candidates) {
    const ex = (c as { examples?: unknown } | null)?.examples;
    if (Array.isArray(ex) && ex.length > 0) return ex[0];
  }
  return undefined;
}

/** The newest schema version's key ("1", "2", …), or null when there is none. */
export function newestVersion(schemas: Record<string, unknown> | null | undefined): string | null {
  if (!schemas) return null;
  const keys = Object.keys(schemas).filter((k) => /^\d+$/.test(k)).sort((x, y) => Number(y) - Number(x));
  return keys[0] ?? null;
}

/** Event types grouped by their catalogue group (groupName), else by the part of their name before the first dot. */
export function groupTypes(types: EventType[]): [string, EventType[]][] {
  const groups = new Map<string, EventType[]>();
  for (const t of types) {
    // The catalogue's own grouping where the type has one; else the name's first part.
    const g = t.groupName ?? (t.name.includes('.') ? t.name.slice(0, t.name.indexOf('.')) : t.name);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(t);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
}
