// The one place that reads the environment. Everything below receives a Config.
import { KeyRingError, parseKeyRing, type RingKey } from './domain/sealing.js';
import { LOG_FORMATS, type LogFormat } from './logger.js';

export type SignatureHeaderMode = 'webhook' | 'svix' | 'both';
/** api: only the management API; worker: only delivery; all: both in one process. */
export type Role = 'api' | 'worker' | 'all';

export interface Config {
  port: number;
  host: string;
  /** A SQLite file path, or a postgres:// URL. */
  db: string;
  role: Role;
  /** PostgreSQL only: the schema holding Hookwell's tables (null: the connection's default). */
  dbSchema: string | null;
  /** PostgreSQL only: most connections this process opens. */
  dbPoolSize: number;
  /** How long a claimed delivery stays leased without renewal; renewed while it runs. */
  leaseMs: number;
  /** The admin tokens, all valid at once (several while one is rotated out); empty: generated and stored. */
  adminTokens: string[];
  allowPrivateTargets: boolean;
  /** Seconds before each retry after the first attempt. */
  retrySchedule: number[];
  requestTimeoutMs: number;
  maxPayloadBytes: number;
  signatureHeaders: SignatureHeaderMode;
  /** Attempts in flight at once, over all endpoints. */
  concurrency: number;
  /** Attempts in flight at once to one endpoint. */
  endpointConcurrency: number;
  /** How long SIGTERM waits for in-flight attempts before exiting. */
  drainTimeoutMs: number;
  logLevel: string;
  logFormat: LogFormat;
  /** Check every message against its event type's newest schema, not only for types with validate: true. */
  validatePayloads: boolean;
  /** The address receivers use to reach the API, for content links; null: the listen address. */
  publicUrl: string | null;
  /** How long a content link stays valid. */
  contentLinkTtlMs: number;
  /** Largest backfill upload accepted, in bytes. */
  maxBackfillBytes: number;
  /** The API's clients: most time from connecting (or the previous request) to the end of the headers. */
  httpHeadersTimeoutMs: number;
  /** Most time from the end of the headers to the end of the body; a streamed upload must instead keep moving. */
  httpBodyTimeoutMs: number;
  /** How long a kept connection may wait for its next request. */
  httpIdleTimeoutMs: number;
  /** Most connections to the API at once; more are closed as they arrive. */
  httpMaxConnections: number;
  /** CSP frame-ancestors sources of the app portal: the sites that may embed it. */
  portalFrameAncestors: string;
  /** A port of its own for /health/live and /health/ready (a worker's only listener); null: none. */
  healthPort: number | null;
  /** Encryption at rest: the first key seals, all open; empty when off. */
  encryptionKeys: RingKey[];
  /** An endpoint whose every attempt has failed for this long is disabled. */
  disableAfterMs: number;
  /** How long a message's content is kept when the message does not say (ms). */
  payloadRetentionMs: number;
  /** How often expired content is looked for and deleted (ms). */
  payloadPurgeIntervalMs: number;
  /** The bearer token /metrics asks for; null: admin tokens on the API port, none on the metrics and health ports. */
  metricsToken: string | null;
  /** A port of its own for /metrics; null: none. */
  metricsPort: number | null;
  /** OpenTelemetry traces, from the standard OTEL_* variables; null: off. */
  tracing: TracingConfig | null;
}

export interface TracingConfig {
  /** OTEL_SERVICE_NAME, default hookwell. */
  serviceName: string;
  /**
   * Where spans are posted: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else
   * OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended (the OTLP exporter rules).
   */
  url: string;
  /** `url` without credentials or query, for the log. */
  shownUrl: string;
}

export class ConfigError extends Error {}

export interface Setting {
  key: keyof Config;
  flag?: string;
  env: string;
  default: string;
  /** How the default reads in help, when it is not a value. */
  shownDefault?: string;
  help: string;
}

export const SETTINGS: Setting[] = [
  { key: 'port', flag: '--port', env: 'HOOKWELL_PORT', default: '8071', help: 'listen port (0 picks a free one; the chosen URL is logged)' },
  { key: 'host', flag: '--host', env: 'HOOKWELL_HOST', default: '127.0.0.1', help: 'listen address' },
  { key: 'db', flag: '--db', env: 'HOOKWELL_DB', default: './hookwell.db', help: 'SQLite file path, or postgres://user@host:port/database' },
  { key: 'role', flag: '--role', env: 'HOOKWELL_ROLE', default: 'all', help: 'api (management API only), worker (delivery only) or all; api and worker need PostgreSQL' },
  { key: 'dbSchema', env: 'HOOKWELL_DB_SCHEMA', default: '', shownDefault: "the connection's search_path", help: "PostgreSQL schema for Hookwell's tables, created if missing" },
  { key: 'dbPoolSize', env: 'HOOKWELL_DB_POOL_SIZE', default: '10', help: 'PostgreSQL connections per process' },
  { key: 'leaseMs', env: 'HOOKWELL_LEASE_MS', default: '60000', help: "how long a claimed delivery is held without renewal; a dead worker's deliveries return after it" },
  { key: 'adminTokens', env: 'HOOKWELL_ADMIN_TOKEN', default: '', shownDefault: 'generated', help: 'bearer token of the management API, or several separated by commas, all valid (to rotate it without downtime); generated, stored and printed once when unset' },
  { key: 'allowPrivateTargets', env: 'HOOKWELL_ALLOW_PRIVATE_TARGETS', default: 'false', help: 'allow deliveries to any address; when false only public unicast addresses are called' },
  { key: 'retrySchedule', env: 'HOOKWELL_RETRY_SCHEDULE', default: '5,300,1800,7200,18000,36000,36000', help: 'seconds before each retry after the first attempt (±20% jitter)' },
  { key: 'requestTimeoutMs', env: 'HOOKWELL_REQUEST_TIMEOUT_MS', default: '15000', help: 'timeout of one delivery attempt, in ms' },
  { key: 'maxPayloadBytes', env: 'HOOKWELL_MAX_PAYLOAD_BYTES', default: '1048576', help: 'largest message payload accepted; larger gets 413' },
  { key: 'signatureHeaders', env: 'HOOKWELL_SIGNATURE_HEADERS', default: 'webhook', help: 'webhook (webhook-id …), svix (svix-id …) or both' },
  { key: 'concurrency', env: 'HOOKWELL_CONCURRENCY', default: '256', help: 'delivery attempts in flight at once, over all endpoints' },
  { key: 'endpointConcurrency', env: 'HOOKWELL_ENDPOINT_CONCURRENCY', default: '16', help: 'delivery attempts in flight at once to one endpoint' },
  { key: 'drainTimeoutMs', env: 'HOOKWELL_DRAIN_TIMEOUT_MS', default: '20000', help: 'on SIGTERM, how long to wait for in-flight attempts' },
  { key: 'logLevel', env: 'HOOKWELL_LOG_LEVEL', default: 'info', help: 'fatal, error, warn, info, debug or trace' },
  { key: 'logFormat', env: 'HOOKWELL_LOG_FORMAT', default: 'json', help: 'json (one object a line, for log collectors) or pretty (readable lines, for development)' },
  { key: 'publicUrl', env: 'HOOKWELL_PUBLIC_URL', default: '', shownDefault: 'the listen address', help: 'where receivers reach the API, for the content links of thin deliveries (set it on workers and behind proxies)' },
  { key: 'contentLinkTtlMs', env: 'HOOKWELL_CONTENT_LINK_TTL_S', default: '600', help: 'seconds a content link stays valid' },
  { key: 'maxBackfillBytes', env: 'HOOKWELL_MAX_BACKFILL_BYTES', default: '1073741824', help: 'largest backfill upload accepted; larger gets 413 (one record may be up to HOOKWELL_MAX_PAYLOAD_BYTES)' },
  { key: 'httpHeadersTimeoutMs', env: 'HOOKWELL_HTTP_HEADERS_TIMEOUT_MS', default: '10000', help: "API clients: ms from connecting (or the previous request) to the request's last header; also closes connections that send nothing" },
  { key: 'httpBodyTimeoutMs', env: 'HOOKWELL_HTTP_BODY_TIMEOUT_MS', default: '20000', help: 'API clients: ms from the last header to the end of the body (408); a backfill upload must instead bring 32 KiB in every such window' },
  { key: 'httpIdleTimeoutMs', env: 'HOOKWELL_HTTP_IDLE_TIMEOUT_MS', default: '30000', help: 'API clients: ms a kept-alive connection may wait for its next request' },
  { key: 'httpMaxConnections', env: 'HOOKWELL_HTTP_MAX_CONNECTIONS', default: '4096', help: 'API clients: most connections at once; more are closed as they arrive' },
  { key: 'portalFrameAncestors', env: 'HOOKWELL_PORTAL_FRAME_ANCESTORS', default: "'self'", help: "space-separated CSP sources of the sites that may embed the app portal in a frame (e.g. https://app.example.com), or 'none'" },
  { key: 'healthPort', env: 'HOOKWELL_HEALTH_PORT', default: '', shownDefault: 'none', help: 'also serve /health/live and /health/ready on this port, on the listen address: how a worker, which serves no API, is probed' },
  // No flag: a key on the command line would show in every process listing.
  { key: 'encryptionKeys', env: 'HOOKWELL_ENCRYPTION_KEYS', default: '', shownDefault: 'none: stored unencrypted', help: 'encryption at rest: <key id>:<base64 of 32 bytes>, comma-separated; the first encrypts, all decrypt (see `hookwell rekey`)' },
  { key: 'disableAfterMs', env: 'HOOKWELL_DISABLE_AFTER_S', default: '432000', help: 'seconds an endpoint may fail every attempt before it is disabled (432000: five days, as Svix)' },
  { key: 'payloadRetentionMs', env: 'HOOKWELL_PAYLOAD_RETENTION_DAYS', default: '90', help: "days a message's payload, its attempts' response bodies and its backfill's records are kept when the message gives no payloadRetentionPeriod/Hours; then they are deleted (fractions allowed)" },
  { key: 'payloadPurgeIntervalMs', env: 'HOOKWELL_PAYLOAD_PURGE_INTERVAL_MS', default: '60000', help: 'how often expired payloads are looked for and deleted, in ms' },
  // No flag, as for the admin token: a token on the command line shows in process listings.
  { key: 'metricsToken', env: 'HOOKWELL_METRICS_TOKEN', default: '', shownDefault: 'none', help: 'bearer token that /metrics asks for on every port; unset, /metrics on the API port takes an admin token and on the metrics and health ports is open' },
  { key: 'metricsPort', env: 'HOOKWELL_METRICS_PORT', default: '', shownDefault: 'none', help: 'also serve /metrics (Prometheus) on this port, on the listen address; it is served on the API port and the health port too' },
  { key: 'validatePayloads', env: 'HOOKWELL_VALIDATE_PAYLOADS', default: 'false', help: "refuse (422) every message whose payload does not match its event type's schema, not only for types with validate: true" },
];

function integer(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** The longest server-wide retention: ten years, past any record-keeping rule's. */
const MAX_RETENTION_DAYS = 3650;

/** A number of days, fractions allowed (a test's short period), as ms; more than 0. */
function days(name: string, raw: string, max: number): number {
  if (!/^\d+(\.\d+)?$/.test(raw.trim())) throw new ConfigError(`${name} must be a number of days such as 90 or 0.5, got "${raw}"`);
  const n = Number(raw.trim());
  if (n <= 0 || n > max) throw new ConfigError(`${name} must be more than 0 and at most ${max} days, got ${n}`);
  return Math.max(1, Math.round(n * 86_400_000));
}

function boolean(name: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function schedule(name: string, raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new ConfigError(`${name} must be a comma-separated list of seconds, got "${raw}"`);
  }
  return parts.map((p) => {
    if (!/^\d+(\.\d+)?$/.test(p)) throw new ConfigError(`${name}: "${p}" is not a number of seconds`);
    return Number(p);
  });
}

/**
 * Builds the configuration from command-line flags (which win) and the environment.
 * `flags` holds the flag values by Config key, as given on the command line.
 */
export function loadConfig(
  flags: Partial<Record<keyof Config, string>>,
  env: Record<string, string | undefined> = process.env,
): Config {
  const raw = (s: Setting): { name: string; value: string } => {
    const flagValue = flags[s.key];
    if (flagValue !== undefined) return { name: s.flag ?? s.env, value: flagValue };
    const envValue = env[s.env];
    if (envValue !== undefined && envValue !== '') return { name: s.env, value: envValue };
    return { name: s.env, value: s.default };
  };
  const get = (key: keyof Config) => raw(SETTINGS.find((s) => s.key === key)!);

  const port = get('port');
  const host = get('host');
  const db = get('db');
  const sig = get('signatureHeaders');
  const level = get('logLevel');
  const token = get('adminTokens');

  if (host.value.trim() === '') throw new ConfigError(`${host.name} must not be empty`);
  if (db.value.trim() === '') throw new ConfigError(`${db.name} must not be empty`);
  const role = get('role');
  const schema = get('dbSchema');
  const postgres = isPostgresUrl(db.value);
  if (postgres) {
    try {
      new URL(db.value);
    } catch {
      throw new ConfigError(`${db.name} is not a valid PostgreSQL URL: "${redactUrl(db.value)}"`);
    }
  }
  if (!['api', 'worker', 'all'].includes(role.value)) {
    throw new ConfigError(`${role.name} must be api, worker or all, got "${role.value}"`);
  }
  if (role.value !== 'all' && !postgres) {
    throw new ConfigError(`${role.name}=${role.value} needs a shared PostgreSQL database (${db.name}=postgres://…); a SQLite file serves one process`);
  }
  if (schema.value !== '' && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema.value)) {
    throw new ConfigError(`${schema.name} must be lower-case letters, digits and "_", starting with a letter or "_"; got "${schema.value}"`);
  }
  if (!['webhook', 'svix', 'both'].includes(sig.value)) {
    throw new ConfigError(`${sig.name} must be webhook, svix or both, got "${sig.value}"`);
  }
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level.value)) {
    throw new ConfigError(`${level.name} must be one of fatal, error, warn, info, debug, trace, silent; got "${level.value}"`);
  }
  const format = get('logFormat');
  if (!(LOG_FORMATS as readonly string[]).includes(format.value)) {
    throw new ConfigError(`${format.name} must be json or pretty, got "${format.value}"`);
  }
  const adminTokens = token.value.trim() === '' ? [] : token.value.split(',').map((t) => t.trim());
  adminTokens.forEach((t, i) => {
    const which = adminTokens.length === 1 ? token.name : `${token.name} (token ${i + 1} of ${adminTokens.length})`;
    if (t === '') throw new ConfigError(`${which} is empty; separate tokens with single commas`);
    if (t.length < 16) throw new ConfigError(`${which} must be at least 16 characters long`);
  });

  return {
    port: integer(port.name, port.value, 0, 65535),
    host: host.value.trim(),
    db: db.value,
    role: role.value as Role,
    dbSchema: schema.value === '' ? null : schema.value,
    dbPoolSize: integer(get('dbPoolSize').name, get('dbPoolSize').value, 1, 1000),
    leaseMs: integer(get('leaseMs').name, get('leaseMs').value, 1000, 86_400_000),
    adminTokens,
    allowPrivateTargets: boolean(get('allowPrivateTargets').name, get('allowPrivateTargets').value),
    retrySchedule: schedule(get('retrySchedule').name, get('retrySchedule').value),
    requestTimeoutMs: integer(get('requestTimeoutMs').name, get('requestTimeoutMs').value, 1, 600_000),
    maxPayloadBytes: integer(get('maxPayloadBytes').name, get('maxPayloadBytes').value, 1, 256 * 1024 * 1024),
    signatureHeaders: sig.value as SignatureHeaderMode,
    concurrency: integer(get('concurrency').name, get('concurrency').value, 1, 100_000),
    endpointConcurrency: integer(get('endpointConcurrency').name, get('endpointConcurrency').value, 1, 10_000),
    drainTimeoutMs: integer(get('drainTimeoutMs').name, get('drainTimeoutMs').value, 0, 3_600_000),
    logLevel: level.value,
    logFormat: format.value as LogFormat,
    validatePayloads: boolean(get('validatePayloads').name, get('validatePayloads').value),
    publicUrl: publicUrl(get('publicUrl').name, get('publicUrl').value),
    contentLinkTtlMs: integer(get('contentLinkTtlMs').name, get('contentLinkTtlMs').value, 1, 7 * 86_400) * 1000,
    maxBackfillBytes: integer(get('maxBackfillBytes').name, get('maxBackfillBytes').value, 1, Number.MAX_SAFE_INTEGER),
    httpHeadersTimeoutMs: integer(get('httpHeadersTimeoutMs').name, get('httpHeadersTimeoutMs').value, 100, 600_000),
    httpBodyTimeoutMs: integer(get('httpBodyTimeoutMs').name, get('httpBodyTimeoutMs').value, 100, 3_600_000),
    httpIdleTimeoutMs: integer(get('httpIdleTimeoutMs').name, get('httpIdleTimeoutMs').value, 100, 3_600_000),
    httpMaxConnections: integer(get('httpMaxConnections').name, get('httpMaxConnections').value, 1, 1_000_000),
    portalFrameAncestors: frameAncestors(get('portalFrameAncestors').name, get('portalFrameAncestors').value),
    healthPort: get('healthPort').value.trim() === '' ? null : integer(get('healthPort').name, get('healthPort').value, 1, 65535),
    encryptionKeys: keyRing(get('encryptionKeys').name, get('encryptionKeys').value),
    disableAfterMs: integer(get('disableAfterMs').name, get('disableAfterMs').value, 1, 10 * 365 * 86_400) * 1000,
    payloadRetentionMs: days(get('payloadRetentionMs').name, get('payloadRetentionMs').value, MAX_RETENTION_DAYS),
    payloadPurgeIntervalMs: integer(get('payloadPurgeIntervalMs').name, get('payloadPurgeIntervalMs').value, 10, 86_400_000),
    metricsToken: metricsToken(get('metricsToken').name, get('metricsToken').value),
    metricsPort: get('metricsPort').value.trim() === '' ? null : integer(get('metricsPort').name, get('metricsPort').value, 1, 65535),
    tracing: tracing(env),
  };
}

/**
 * Tracing is on when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_EXPORTER_OTLP_ENDPOINT) and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none
 * turns it off. Spans go over OTLP/HTTP with JSON bodies, which every OTLP/HTTP receiver takes;
 * gRPC is refused rather than silently sent as HTTP.
 */
function tracing(env: Record<string, string | undefined>): TracingConfig | null {
  const value = (name: string): string => (env[name] ?? '').trim();
  if (value('OTEL_SDK_DISABLED').toLowerCase() === 'true') return null;
  const exporter = value('OTEL_TRACES_EXPORTER').toLowerCase();
  if (exporter === 'none') return null;
  const tracesEndpoint = value('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseEndpoint = value('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (tracesEndpoint === '' && baseEndpoint === '') return null;
  if (exporter !== '' && exporter !== 'otlp') throw new ConfigError(`OTEL_TRACES_EXPORTER must be otlp or none, got "${env.OTEL_TRACES_EXPORTER}"`);
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = value(name);
    if (protocol !== '' && protocol !== 'http/json' && protocol !== 'http/protobuf') {
      throw new ConfigError(`${name} must be http/json or http/protobuf (spans are sent over OTLP/HTTP as JSON), got "${env[name]}"`);
    }
  }
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT']) {
    const url = value(name);
    if (url === '') continue;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new ConfigError(`${name} must be an http(s) URL such as http://localhost:4318, got "${env[name]}"`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${name} must be an http(s) URL, got "${env[name]}"`);
  }
  const url = tracesEndpoint !== '' ? tracesEndpoint : `${baseEndpoint.replace(/\/+$/, '')}/v1/traces`;
  const shown = new URL(url);
  // Without credentials or query, which may carry a key.
  return { serviceName: value('OTEL_SERVICE_NAME') || 'hookwell', url, shownUrl: shown.origin + shown.pathname };
}

const SCHEME_SOURCE = /^[a-z][a-z0-9+.-]*:$/i;
const HOST_SOURCE = /^(?:[a-z][a-z0-9+.-]*:\/\/)?(?:\*|(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)(?::(?:\d{1,5}|\*))?(?:\/[a-z0-9\-._~%!$&()*+=:@/]*)?$/i;

/**
 * CSP frame-ancestors sources. The value goes into a response header, so anything that could
 * end the directive or the header (";", ",", quotes other than the two keywords) is refused.
 */
function frameAncestors(name: string, raw: string): string {
  const sources = raw.trim().split(/[ \t]+/).filter((s) => s !== '');
  if (sources.length === 0) throw new ConfigError(`${name} must name at least one CSP source such as 'self' or https://app.example.com`);
  for (const s of sources) {
    if (s === "'none'" && sources.length > 1) throw new ConfigError(`${name}: 'none' must stand alone, got "${raw}"`);
    if (s === "'self'" || s === "'none'" || SCHEME_SOURCE.test(s) || HOST_SOURCE.test(s)) continue;
    throw new ConfigError(`${name}: "${s}" is not a CSP source (use 'self', 'none', a scheme such as https:, or an origin such as https://app.example.com or https://*.example.com)`);
  }
  return sources.join(' ');
}

function metricsToken(name: string, raw: string): string | null {
  const t = raw.trim();
  if (t === '') return null;
  if (t.length < 16) throw new ConfigError(`${name} must be at least 16 characters long`);
  if (/\s/.test(t)) throw new ConfigError(`${name} must not contain spaces`);
  return t;
}

function keyRing(name: string, raw: string): RingKey[] {
  if (raw.trim() === '') return [];
  try {
    return parseKeyRing(raw);
  } catch (err) {
    if (err instanceof KeyRingError) throw new ConfigError(`${name}: ${err.message}`);
    throw err;
  }
}

function publicUrl(name: string, raw: string): string | null {
  if (raw.trim() === '') return null;
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL such as https://hooks.example.com, got "${raw}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  return raw.trim().replace(/\/+$/, '');
}

/** http://host:port, an IPv6 address in brackets. */
export function httpOrigin(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/i, '$1****@');
}
