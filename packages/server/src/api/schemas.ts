// Request and response schemas, following the Svix API. They validate requests, shape
// responses and are the single source of the OpenAPI document served at /openapi.json.
// Where Svix's v1 and v2 SDKs name a field differently, both names are accepted.

import { LIMITS, MAX_INT32, RETRY_DELAY_MAX_SECONDS, RETRY_SCHEDULE_MAX_LENGTH } from '../domain/limits.js';
import { PORTAL_CAPABILITIES } from '../domain/access.js';
import { Status, TASK_KINDS, TASK_STATUSES, Trigger } from '../domain/types.js';
import { OPERATIONAL_EVENT_TYPES } from '../domain/endpoint-health.js';
import { MESSAGE_RETENTION } from '../domain/erasure.js';

type Schema = Record<string, unknown>;

const NAME_PATTERN = '^[a-zA-Z0-9\\-_.]+$';
const CHANNEL_PATTERN = '^[a-zA-Z0-9\\-_.:+]+$';
const TAG_PATTERN = '^[a-zA-Z0-9\\-_./\\\\#]+$';

const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const nullable = (s: Schema): Schema => ({ ...s, nullable: true });
const int = (extra: Schema = {}): Schema => ({ type: 'integer', ...extra });
const bool = (extra: Schema = {}): Schema => ({ type: 'boolean', ...extra });
const dateTime = (extra: Schema = {}): Schema => str({ format: 'date-time', ...extra });
const id = (prefix: string): Schema => str({ pattern: `^${prefix}_[A-Za-z0-9]{27}$`, example: `${prefix}_2lYhbWJ0GEAzSF4rRS1kUCnsYmM` });
const uid = (): Schema => nullable(str({ minLength: 1, maxLength: 256, pattern: NAME_PATTERN, description: 'Your own unique identifier; usable wherever the id is.' }));
const eventTypeName = (): Schema => str({ maxLength: 256, pattern: NAME_PATTERN, example: 'daily.data.workouts.created' });
const metadata = (): Schema => ({
  type: 'object',
  maxProperties: LIMITS.metadataEntries,
  propertyNames: { maxLength: LIMITS.metadataKey },
  additionalProperties: { type: 'string', maxLength: LIMITS.metadataValue },
});
const description = (extra: Schema = {}): Schema => str({ maxLength: LIMITS.description, ...extra });
/** Integers kept in an `integer` column: Ajv's integer takes 1e300, which no column holds. */
const int32 = (extra: Schema = {}): Schema => int({ maximum: MAX_INT32, ...extra });
const stringList = (item: Schema, extra: Schema = {}): Schema => nullable({ type: 'array', items: item, uniqueItems: true, ...extra });
const eventTypeList = (): Schema => stringList(eventTypeName(), { minItems: 1, maxItems: LIMITS.eventTypes });
const channelList = (): Schema => stringList(str({ maxLength: 128, pattern: CHANNEL_PATTERN }), { minItems: 1, maxItems: 10 });
const rate = (min: number): Schema => nullable(int({ minimum: min, maximum: 65535, description: 'Most messages per second to send.' }));
const url = (): Schema => str({ format: 'uri', minLength: 1, maxLength: 65536, example: 'https://example.com/webhook/' });
const secret = (): Schema =>
  nullable(
    str({
      pattern: '^(whsec_|whsk_|whsk1_|whpk_|whpk1_)?[a-zA-Z0-9+/=]{32,100}$',
      description:
        "Base64 HMAC key, optionally prefixed with whsec_, or an ed25519 signing key (whsk_…) for asymmetric v1a signatures; generated when omitted. Svix's other prefixes are refused with a 422 naming why: public keys (whpk_, whpk1_) cannot sign, and whsk1_'s encoding is not published.",
    }),
  );
const ordering = (): Schema =>
  nullable({
    type: 'object',
    properties: {
      key: str({
        minLength: 1,
        maxLength: 256,
        example: '$.data.user_id',
        description: 'A simple JSON path into the payload: "$", then ".name" or "[index]" steps.',
      }),
    },
    required: ['key'],
    additionalProperties: false,
    description:
      'Hookwell: deliver messages with the same value at `key` one at a time, in message order; other values and messages without one are not held up. Null: unordered.',
  });
const dataId = (): Schema =>
  nullable(str({ minLength: 1, maxLength: 256, description: "Hookwell: the stable id of the record the message is about (a workout's id); list its messages with ?data_id=." }));
const HEADER_NAME_PATTERN = "^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$";
/** Header values are checked in endpoints.ts (checkHeaders): characters, clashes and total size. */
const headerMap = (value: Schema = { type: 'string', maxLength: LIMITS.headerValue }): Schema => ({
  type: 'object',
  maxProperties: LIMITS.headers,
  propertyNames: { maxLength: LIMITS.headerName },
  additionalProperties: value,
  description: `At most ${LIMITS.headers} headers of ${LIMITS.headerBytes} bytes in all; values of tab, printable ASCII and Latin-1 characters.`,
});
const obj = (properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema => ({
  type: 'object',
  properties,
  ...(required.length ? { required } : {}),
  ...extra,
});
const ref = (name: string): Schema => ({ $ref: `${name}#` });
const list = (item: string): Schema =>
  obj(
    {
      data: { type: 'array', items: ref(item) },
      iterator: nullable(str()),
      prevIterator: nullable(str()),
      done: bool(),
    },
    ['data', 'done', 'iterator'],
  );

const status = (): Schema => int({ enum: Object.values(Status), description: '0 success, 1 pending, 2 fail, 3 sending, 4 canceled' });
const statusText = (): Schema => str({ enum: ['success', 'pending', 'fail', 'sending', 'canceled'] });

const endpointCommon = (): Record<string, Schema> => ({
  url: url(),
  description: description({ default: '' }),
  uid: uid(),
  disabled: bool({ default: false }),
  version: nullable(int32({ minimum: 1, description: 'Svix v1 SDK field; kept for compatibility.' })),
  eventTypes: eventTypeList(),
  filterTypes: eventTypeList(),
  channels: channelList(),
  throttleRate: rate(1),
  rateLimit: rate(1),
  metadata: metadata(),
  ...payloadOptions(),
  ordering: ordering(),
});

/** Hookwell's extension of Svix's endpoint: thin deliveries with content links. */
const payloadOptions = (): Record<string, Schema> => ({
  payloadMode: str({
    enum: ['full', 'thin'],
    description: 'thin: deliveries carry the type, time, identifiers and a link to the content instead of the payload',
  }),
  maxPayloadBytes: nullable(int32({ minimum: 1, description: 'Payloads larger than this are sent thin even in full mode' })),
});

const pingResult = (): Schema =>
  obj(
    {
      ok: bool(),
      detail: str({ description: 'What the endpoint answered, or why the check failed.' }),
      at: dateTime(),
    },
    ['ok', 'detail', 'at'],
  );

const verifyFlag = (): Schema =>
  bool({ default: false, description: 'Run the ping/pong check against the URL first; refuse with 422 if it fails.' });

const endpointOut = (): Record<string, Schema> => ({
  id: id('ep'),
  ...endpointCommon(),
  description: str(),
  version: int(),
  throttleRate: rate(0),
  rateLimit: rate(0),
  lastPing: nullable({ ...pingResult(), description: 'The last ping/pong check of the URL.' }),
  webhookKeyHeader: nullable(str({ description: 'The header that carries the webhook key, if one is set.' })),
  disabledReason: nullable(
    str({ description: 'Hookwell: why the endpoint is disabled: through the API, after answering 410 Gone, or after every attempt failed for HOOKWELL_DISABLE_AFTER_S. Null while enabled.' }),
  ),
  disabledAt: nullable(dateTime({ description: 'Hookwell: when the endpoint was disabled. Null while enabled.' })),
  createdAt: dateTime(),
  updatedAt: dateTime(),
});

/** Svix's operational webhook endpoint: an endpoint that receives Hookwell's own events. */
const operationalEndpointCommon = (): Record<string, Schema> => ({
  url: url(),
  description: description({ default: '' }),
  throttleRate: rate(1),
  uid: uid(),
  disabled: bool({ default: false }),
  eventTypes: operationalTypes(),
  filterTypes: operationalTypes(),
  rateLimit: rate(1),
  metadata: metadata(),
});
const operationalTypes = (): Schema =>
  stringList(str({ enum: [...OPERATIONAL_EVENT_TYPES] }), { minItems: 1, description: 'The operational events sent to it; null or absent: all of them.' });

const messageOut = (): Record<string, Schema> => ({
  id: id('msg'),
  eventId: nullable(str()),
  eventType: eventTypeName(),
  payload: { type: 'object', additionalProperties: true },
  channels: nullable({ type: 'array', items: str() }),
  tags: nullable({ type: 'array', items: str() }),
  dataId: dataId(),
  timestamp: dateTime(),
  deliverAt: nullable(dateTime()),
  payloadDeleted: bool({
    description:
      'Hookwell: true once the payload was deleted (expunged, erased, or past its retention period); `payload` is then {}. Absent while the payload is kept.',
  }),
});

const eventTypeFields = (): Record<string, Schema> => ({
  description: description(),
  archived: bool({ default: false }),
  deprecated: bool({ default: false }),
  schemas: nullable({ type: 'object', additionalProperties: true }),
  featureFlags: stringList(str({ maxLength: 256, pattern: NAME_PATTERN }), { minItems: 1, maxItems: LIMITS.featureFlags }),
  featureFlag: nullable(str({ maxLength: 256, pattern: NAME_PATTERN })),
  groupName: nullable(str({ maxLength: 256, pattern: NAME_PATTERN })),
  validate: bool({ default: false, description: "Hookwell: refuse (422) messages whose payload does not match the newest schema" }),
});

// Svix's BackgroundTaskType: Hookwell runs the first four; the others are accepted as filters.
const TASK_TYPES = [...TASK_KINDS, 'message.broadcast'];
const taskFields = (): Record<string, Schema> => ({
  id: id('qtask'),
  status: str({ enum: [...TASK_STATUSES] }),
  task: str({ enum: TASK_TYPES }),
  updatedAt: dateTime(),
});
const backgroundTask = (): Schema => obj(taskFields(), ['id', 'status', 'task', 'updatedAt']);

/**
 * A background task that Hookwell finishes before answering, with what it produced in
 * `data` (Svix's BackgroundTaskOut carries the same field).
 */
const backgroundTaskOf = (tasks: string[]): Schema =>
  obj(
    {
      id: id('qtask'),
      status: str({ enum: ['running', 'finished', 'failed'] }),
      task: str({ enum: tasks }),
      updatedAt: dateTime(),
      data: { type: 'object', additionalProperties: true },
    },
    ['id', 'status', 'task', 'updatedAt'],
  );

const applicationIn = (): Schema =>
  obj(
    {
      name: str({ minLength: 1, maxLength: LIMITS.name, example: 'Acme Health' }),
      uid: uid(),
      throttleRate: rate(1),
      rateLimit: rate(1),
      metadata: metadata(),
    },
    ['name'],
  );

/** Svix's endpoint authentication (EndpointOauthConfigIn/Out, EndpointMtlsConfigIn/Out, EndpointServerCaIn/Out). */
const oauthGrantType = (): Schema => str({ enum: ['clientCredentials', 'refreshToken'], description: 'Hookwell sends with clientCredentials only; refreshToken is refused.' });
const oauthAuthMethod = (): Schema =>
  str({
    enum: ['clientSecretJwt', 'clientSecretBasic', 'clientSecretPost'],
    description: 'How the client authenticates to the token URL: HTTP Basic (preferred) or client_secret in the body. clientSecretJwt is refused.',
  });
const oauthParams = (): Schema => nullable({ type: 'object', maxProperties: 32, propertyNames: { maxLength: 256 }, additionalProperties: str({ maxLength: 4096 }) });
const oauthConfigOut = (): Schema =>
  obj(
    {
      grantType: oauthGrantType(),
      authMethod: oauthAuthMethod(),
      clientId: str(),
      tokenUrl: str(),
      scopes: nullable({ type: 'array', items: str() }),
      extraParams: nullable({ type: 'object', additionalProperties: str() }),
      extraHeaders: nullable({ type: 'object', additionalProperties: str() }),
    },
    ['authMethod', 'clientId', 'grantType', 'tokenUrl'],
  );
const pem = (what: string): Schema => str({ minLength: 1, maxLength: 65536, description: what });

export const SCHEMAS: Record<string, Schema> = {
  HttpErrorOut: obj({ code: str(), detail: str() }, ['code', 'detail']),
  ValidationError: obj(
    { loc: { type: 'array', items: str() }, msg: str(), type: str() },
    ['loc', 'msg', 'type'],
  ),
  HTTPValidationError: obj({ detail: { type: 'array', items: ref('ValidationError') } }, ['detail']),

  ApplicationIn: applicationIn(),
  AppPortalAccessIn: obj({
    application: ref('ApplicationIn'),
    expiry: nullable(int({ minimum: 3600, maximum: 604800, default: 604800, description: 'How long the token is valid, in seconds (1 hour to 7 days).' })),
    readOnly: nullable(bool({ description: 'Only the ViewBase capability: the portal shows and changes nothing else.' })),
    capabilities: stringList(str({ enum: [...PORTAL_CAPABILITIES] }), {
      description: 'What the token may do; ViewBase is always required. Every capability when omitted.',
    }),
    featureFlags: { type: 'array', uniqueItems: true, items: str({ maxLength: 256, pattern: NAME_PATTERN }), maxItems: 25 },
    sessionId: nullable(str({ minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9@_-]+$', description: 'Expire-all can end only the tokens of given sessions.' })),
  }),
  AppPortalAccessOut: obj({ url: str({ format: 'uri' }), token: str({ example: 'hwp_Ox5M0dXgm0pTbJl1gqYVqQWPLMHKB0l0gJzUjWnhY2c' }) }, ['url', 'token']),
  ApplicationTokenExpireIn: obj({
    expiry: nullable(int({ minimum: 0, maximum: 259200, description: 'Seconds until the tokens expire; now when omitted.' })),
    sessionIds: { type: 'array', items: str({ minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9@_-]+$' }), maxItems: 1000 },
  }),
  WhoamiOut: obj(
    {
      permissionSource: str({ enum: ['admin', 'appPortal', 'apiToken'] }),
      appId: nullable(str()),
      tokenId: nullable(str({ description: 'Hookwell: an API token: its id' })),
      appIds: nullable({ type: 'array', items: str(), description: 'Hookwell: an API token: the applications it is limited to; null for every one' }),
      readOnly: bool(),
      capabilities: { type: 'array', items: str() },
      featureFlags: { type: 'array', items: str() },
      expiresAt: nullable(dateTime()),
      sessionId: nullable(str()),
      envId: nullable(str({ description: "Svix's environment: always null, Hookwell serves one" })),
      streamAppId: nullable(str({ description: "Svix's stream application: always null, Hookwell has no streams" })),
    },
    ['permissionSource', 'appId', 'readOnly', 'capabilities', 'featureFlags', 'expiresAt', 'sessionId'],
  ),
  ApplicationPatch: obj({
    name: str({ minLength: 1, maxLength: LIMITS.name }),
    uid: uid(),
    throttleRate: rate(0),
    rateLimit: rate(0),
    metadata: metadata(),
  }),
  ApplicationOut: obj(
    {
      id: id('app'),
      uid: uid(),
      name: str(),
      throttleRate: rate(0),
      rateLimit: rate(0),
      metadata: metadata(),
      createdAt: dateTime(),
      updatedAt: dateTime(),
    },
    ['id', 'name', 'metadata', 'createdAt', 'updatedAt'],
  ),
  ListResponse_ApplicationOut_: list('ApplicationOut'),

  EndpointIn: obj({ ...endpointCommon(), secret: secret(), headers: nullable(headerMap()), verify: verifyFlag() }, ['url']),
  EndpointUpsertIn: obj({ ...endpointCommon(), verify: verifyFlag() }, ['url']),
  EndpointPatch: obj({
    url: str({ format: 'uri', minLength: 1, maxLength: 65536 }),
    description: description(),
    uid: uid(),
    disabled: bool(),
    version: nullable(int32({ minimum: 1 })),
    eventTypes: stringList(eventTypeName(), { maxItems: LIMITS.eventTypes }),
    filterTypes: stringList(eventTypeName(), { maxItems: LIMITS.eventTypes }),
    channels: stringList(str({ maxLength: 128, pattern: CHANNEL_PATTERN }), { maxItems: 10 }),
    throttleRate: rate(0),
    rateLimit: rate(0),
    metadata: metadata(),
    secret: secret(),
    verify: verifyFlag(),
    ...payloadOptions(),
    ordering: ordering(),
  }),
  EndpointOut: obj(endpointOut(), ['id', 'url', 'description', 'metadata', 'createdAt', 'updatedAt']),
  ListResponse_EndpointOut_: list('EndpointOut'),
  EndpointSecretOut: obj(
    { key: str(), publicKey: str({ description: 'For an asymmetric (whsk_) secret: the whpk_ key receivers verify with.' }) },
    ['key'],
  ),
  EndpointSecretRotateIn: obj({
    key: secret(),
    gracePeriodSeconds: nullable(int({ minimum: 0, maximum: 604800, default: 86400, description: 'How long the old secret keeps signing.' })),
  }),
  EndpointOauthConfigIn: obj(
    {
      grantType: oauthGrantType(),
      authMethod: oauthAuthMethod(),
      jwtParams: nullable(
        obj(
          {
            secretBase64: str({ description: 'The base64-encoded key that signs the JWT.' }),
            signingAlgorithm: { type: 'string', enum: ['RS256'] },
            secretId: nullable(str({ description: 'Sent as the JWT header `kid`.' })),
            tokenExpirySecs: nullable(int({ minimum: 0 })),
          },
          ['secretBase64', 'signingAlgorithm'],
          { description: 'For clientSecretJwt, which Hookwell refuses (422): Svix’s shape, so a request that sends it is read and answered with why.' },
        ),
      ),
      clientId: str({ minLength: 1, maxLength: 1024 }),
      clientSecret: nullable(str({ minLength: 1, maxLength: 4096, description: 'Required for clientSecretBasic and clientSecretPost; never shown again.' })),
      tokenUrl: url(),
      scopes: nullable({ type: 'array', items: str({ minLength: 1, maxLength: 256, pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' }), maxItems: 64 }),
      extraParams: oauthParams(),
      refreshToken: nullable(str({ maxLength: 4096 })),
      extraHeaders: nullable(headerMap()),
    },
    ['authMethod', 'clientId', 'grantType', 'tokenUrl'],
  ),
  EndpointOauthConfigOut: oauthConfigOut(),
  EndpointOauthOut: obj({ enabled: bool(), config: nullable(oauthConfigOut()) }, ['enabled']),
  EndpointMtlsConfigIn: obj(
    { identity: pem('A PEM encoded private key and X.509 certificate (then any intermediates) to identify the webhook sender; never shown again.') },
    ['identity'],
  ),
  EndpointMtlsConfigOut: { type: 'object', properties: {} },
  EndpointMtlsOut: obj({ enabled: bool(), config: nullable({ type: 'object', properties: {} }) }, ['enabled']),
  EndpointServerCaIn: obj({
    cert: nullable(pem("PEM encoded X.509 CA certificate(s) the receiver's certificate must chain to, in place of the public roots. Null: the public roots.")),
  }),
  EndpointServerCaOut: obj({ cert: nullable(str({ description: 'Null: the public roots are in use.' })) }),
  EndpointHeadersIn: obj({ headers: headerMap() }, ['headers']),
  EndpointHeadersPatchIn: obj(
    {
      headers: headerMap(nullable(str({ maxLength: LIMITS.headerValue }))),
      deleteHeaders: { type: 'array', items: str({ maxLength: LIMITS.headerName }), maxItems: LIMITS.headers, default: [] },
    },
    ['headers'],
  ),
  EndpointHeadersOut: obj(
    {
      headers: headerMap(),
      sensitive: { type: 'array', items: str(), uniqueItems: true, description: 'Headers whose values are masked.' },
    },
    ['headers', 'sensitive'],
  ),
  OperationalWebhookEndpointIn: obj({ ...operationalEndpointCommon(), secret: secret(), headers: nullable(headerMap()) }, ['url']),
  OperationalWebhookEndpointUpsertIn: obj(operationalEndpointCommon(), ['url']),
  OperationalWebhookEndpointOut: obj(
    {
      id: id('ep'),
      ...operationalEndpointCommon(),
      description: str(),
      throttleRate: rate(0),
      rateLimit: rate(0),
      createdAt: dateTime(),
      updatedAt: dateTime(),
    },
    ['id', 'url', 'description', 'metadata', 'createdAt', 'updatedAt'],
  ),
  ListResponse_OperationalWebhookEndpointOut_: list('OperationalWebhookEndpointOut'),
  EndpointStats: obj(
    { success: int(), pending: int(), sending: int(), fail: int(), canceled: int() },
    ['success', 'pending', 'sending', 'fail', 'canceled'],
  ),
  RecoverIn: obj({ since: dateTime(), until: nullable(dateTime()) }, ['since']),
  RecoverOut: backgroundTask(),
  ReplayIn: obj({ since: dateTime(), until: nullable(dateTime()) }, ['since']),
  ReplayOut: backgroundTask(),
  BulkReplayIn: obj(
    {
      since: dateTime(),
      until: nullable(dateTime()),
      eventTypes: stringList(eventTypeName()),
      channel: nullable(str({ maxLength: 128, pattern: CHANNEL_PATTERN })),
      tag: nullable(str({ maxLength: 128, pattern: TAG_PATTERN })),
      status: nullable(status()),
      statusCodeClass: nullable(int({ enum: [0, 100, 200, 300, 400, 500], description: "The class of the last attempt's HTTP status; 0 for no response." })),
    },
    ['since'],
  ),
  CancelMsgsIn: obj({ createdBefore: dateTime() }, ['createdBefore']),
  BackgroundTaskOut: obj(
    {
      ...taskFields(),
      data: {
        type: 'object',
        additionalProperties: true,
        description: 'What the task did so far: messagesSent (recover, replay, bulk replay) or messagesPurged (purge); error once failed.',
      },
    },
    ['data', 'id', 'status', 'task', 'updatedAt'],
  ),
  ListResponse_BackgroundTaskOut_: list('BackgroundTaskOut'),
  ExpungeAllContentsOut: backgroundTask(),
  BulkExpungeContentsIn: obj({
    ids: { type: 'array', default: [], uniqueItems: true, maxItems: 1000, items: str({ minLength: 1, maxLength: 256, pattern: NAME_PATTERN }), description: 'Message ID or UID to delete' },
  }),
  BulkExpungeContentsOut: obj(
    { results: { type: 'object', additionalProperties: str({ enum: ['expunged', 'not-found'] }), description: 'Results of expunging (by ID)' } },
    ['results'],
  ),
  OrderingSkipIn: obj(
    { key: str({ maxLength: LIMITS.orderingKeyValue, description: 'The ordering key, as the payload holds it (a number written in decimal).' }) },
    ['key'],
  ),
  OrderingSkipOut: obj(
    { skipped: nullable({ ...id('msg'), description: 'The message whose delivery was failed; null when nothing of that key was waiting.' }) },
    ['skipped'],
  ),
  EventExampleIn: obj({ eventType: eventTypeName(), exampleIndex: int32({ minimum: 0, default: 0 }) }, ['eventType']),

  MessageIn: obj(
    {
      eventType: eventTypeName(),
      eventId: nullable(str({ minLength: 1, maxLength: 256, pattern: NAME_PATTERN })),
      payload: { type: 'object', additionalProperties: true, description: 'Sent as the request body, byte for byte as given.' },
      channels: channelList(),
      tags: stringList(str({ maxLength: 128, pattern: TAG_PATTERN }), { maxItems: 5 }),
      application: applicationIn(),
      deliverAt: nullable(dateTime({ description: 'When to send the message: a time at most 90 days ahead; an earlier one (from 1970 on) means now.' })),
      dataId: dataId(),
      payloadRetentionPeriod: nullable(
        int({
          minimum: 1,
          maximum: MESSAGE_RETENTION.maxDays,
          description:
            "Days the payload, the attempts' response bodies and the content behind content links are kept; then they are deleted. Default: HOOKWELL_PAYLOAD_RETENTION_DAYS (90).",
        }),
      ),
      payloadRetentionHours: nullable(
        int({ minimum: 1, maximum: MESSAGE_RETENTION.maxHours, description: 'As payloadRetentionPeriod, in hours; wins when both are given.' }),
      ),
      transformationsParams: nullable({ type: 'object', additionalProperties: true, maxProperties: 64, description: 'Accepted for Svix compatibility; not used.' }),
    },
    ['eventType', 'payload'],
  ),
  MessageOut: obj(messageOut(), ['id', 'eventType', 'payload', 'timestamp']),
  ListResponse_MessageOut_: list('MessageOut'),
  MessageSearchIn: obj({
    limit: int({ minimum: 1, maximum: 250, default: 50 }),
    iterator: nullable(str({ maxLength: LIMITS.iterator })),
    channel: nullable(str({ maxLength: 128, pattern: CHANNEL_PATTERN })),
    before: nullable(dateTime()),
    after: nullable(dateTime()),
    with_content: bool({ default: false, description: 'When true message payloads are included in the response.' }),
    tag: nullable(str({ maxLength: 128, pattern: TAG_PATTERN })),
    event_types: stringList(eventTypeName(), { maxItems: 100 }),
  }),
  MessageEventsOut: obj(
    { data: { type: 'array', items: ref('MessageOut') }, iterator: str(), done: bool() },
    ['data', 'done', 'iterator'],
  ),
  EndpointMessageOut: obj(
    { ...messageOut(), status: status(), statusText: statusText(), nextAttempt: nullable(dateTime()) },
    ['id', 'eventType', 'payload', 'timestamp', 'status', 'statusText'],
  ),
  ListResponse_EndpointMessageOut_: list('EndpointMessageOut'),
  MessageEndpointOut: obj(
    { ...endpointOut(), status: status(), statusText: statusText(), nextAttempt: nullable(dateTime()) },
    ['id', 'url', 'description', 'createdAt', 'updatedAt', 'status', 'statusText'],
  ),
  ListResponse_MessageEndpointOut_: list('MessageEndpointOut'),
  MessageAttemptOut: obj(
    {
      id: id('atmpt'),
      msgId: id('msg'),
      endpointId: id('ep'),
      url: url(),
      response: str(),
      responseStatusCode: int({ description: '0 when no response arrived' }),
      responseDurationMs: int(),
      status: status(),
      statusText: statusText(),
      triggerType: int({ enum: Object.values(Trigger), description: '0 scheduled, 1 manual' }),
      timestamp: dateTime(),
      msg: { ...ref('MessageOut') },
    },
    ['id', 'msgId', 'endpointId', 'url', 'response', 'responseStatusCode', 'responseDurationMs', 'status', 'statusText', 'triggerType', 'timestamp'],
  ),
  ListResponse_MessageAttemptOut_: list('MessageAttemptOut'),

  EventTypeIn: obj({ name: eventTypeName(), ...eventTypeFields() }, ['name', 'description']),
  EventTypeUpsertIn: obj(eventTypeFields(), ['description']),
  EventTypePatch: obj({
    description: description(),
    archived: bool(),
    deprecated: bool(),
    schemas: nullable({ type: 'object', additionalProperties: true }),
    featureFlags: stringList(str({ maxLength: 256, pattern: NAME_PATTERN }), { maxItems: LIMITS.featureFlags }),
    featureFlag: nullable(str({ maxLength: 256, pattern: NAME_PATTERN })),
    groupName: nullable(str({ maxLength: 256, pattern: NAME_PATTERN })),
    validate: bool(),
  }),
  EventTypeOut: obj(
    {
      name: eventTypeName(),
      description: str(),
      archived: bool(),
      deprecated: bool(),
      schemas: nullable({ type: 'object', additionalProperties: true }),
      featureFlags: nullable({ type: 'array', items: str() }),
      featureFlag: nullable(str()),
      groupName: nullable(str()),
      validate: bool(),
      createdAt: dateTime(),
      updatedAt: dateTime(),
    },
    ['name', 'description', 'deprecated', 'createdAt', 'updatedAt'],
  ),
  ListResponse_EventTypeOut_: list('EventTypeOut'),
  EventTypeSchemaCheckIn: obj(
    {
      schemas: {
        type: 'object',
        minProperties: 1,
        additionalProperties: { type: 'object' },
        description: "As an event type's schemas: a JSON Schema per version.",
        example: { '1': { type: 'object', properties: { calories: { type: 'number' } } } },
      },
    },
    ['schemas'],
  ),
  EventTypeSchemaCheckOut: obj({ ok: bool({ const: true }) }, ['ok']),
  EmptyResponse: obj({}),

  PingOut: pingResult(),
  WebhookKeyIn: obj({
    header: str({ pattern: HEADER_NAME_PATTERN, maxLength: LIMITS.headerName, default: 'x-webhook-key', description: 'The header to send the key in.' }),
  }),
  WebhookKeyOut: obj({ header: str(), key: str() }, ['header', 'key']),
  AppStatusOut: obj(
    {
      enabled: bool({ description: 'Whether any endpoint is enabled.' }),
      statusDetail: str(),
      processing: int({ description: 'Deliveries not finished yet.' }),
      failed: int({ description: 'Deliveries that exhausted their retries and were not sent again since.' }),
      endpoints: {
        type: 'array',
        items: obj(
          {
            id: id('ep'),
            url: url(),
            disabled: bool(),
            lastAttemptAt: nullable(dateTime()),
            lastStatus: nullable(int({ description: 'HTTP status of the last attempt; 0 when it got no response.' })),
            processing: int(),
            failed: int(),
          },
          ['id', 'url', 'disabled', 'lastAttemptAt', 'lastStatus', 'processing', 'failed'],
        ),
      },
    },
    ['enabled', 'statusDetail', 'processing', 'failed', 'endpoints'],
  ),
  EraseIn: obj(
    {
      identifiers: {
        type: 'object',
        minProperties: 1,
        maxProperties: 16,
        propertyNames: { minLength: 1, maxLength: 256 },
        additionalProperties: str({ minLength: 1, maxLength: 256 }),
        example: { user_id: 'U1' },
        description:
          "The person's identifiers, such as {\"user_id\": \"U1\"}. A payload holding ANY of them is erased: found at the payload's top level, under `data`, " +
          'or at a path its event type\'s schema marks "x-identifier": true ending in that name. user_id also erases the records of that user\'s backfills.',
      },
      dataId: str({ minLength: 1, maxLength: 256, description: 'Erase every message carrying this dataId.' }),
    },
    [],
    { additionalProperties: false },
  ),
  EraseOut: obj(
    {
      messages: int({ description: 'Messages whose payload was deleted' }),
      attempts: int({ description: "Attempts whose response body was deleted" }),
      backfillRecords: int({ description: 'Backfill records deleted' }),
      deliveriesCanceled: int({ description: 'Deliveries not yet made that were canceled' }),
      backfills: { type: 'array', items: str(), description: 'The backfills (of user_id) whose records were deleted' },
      msgIds: { type: 'array', items: id('msg'), description: 'The messages erased, at most 1,000' },
      more: bool({ description: 'More messages were erased than msgIds lists' }),
    },
    ['messages', 'attempts', 'backfillRecords', 'deliveriesCanceled', 'backfills', 'msgIds', 'more'],
  ),
  RetryFailedOut: obj({ queued: int({ description: 'How many failed deliveries were queued again.' }) }, ['queued']),

  // Hookwell: the portal's charts and the operator dashboard.
  EndpointStatsSeriesOut: obj(
    {
      bucket: str({ enum: ['hour', 'day'] }),
      data: {
        type: 'array',
        items: obj(
          {
            start: dateTime(),
            success: int(),
            fail: int(),
            latencyP50Ms: nullable(int({ description: 'Median attempt duration; null when the bucket has no attempts.' })),
            latencyP95Ms: nullable(int()),
          },
          ['start', 'success', 'fail', 'latencyP50Ms', 'latencyP95Ms'],
        ),
      },
    },
    ['bucket', 'data'],
  ),
  DashboardOverviewOut: obj(
    {
      backlog: obj(
        {
          pending: int(),
          sending: int(),
          oldestDueAt: nullable(dateTime({ description: 'When the earliest pending delivery fell or falls due.' })),
        },
        ['pending', 'sending', 'oldestDueAt'],
      ),
      throughput: {
        type: 'array',
        description: 'Per hour of the last 24, oldest first: messages created, successful and failed attempts.',
        items: obj({ start: dateTime(), messages: int(), success: int(), fail: int() }, ['start', 'messages', 'success', 'fail']),
      },
      failingEndpoints: {
        type: 'array',
        description: 'Endpoints with failed deliveries, most first (at most 50).',
        items: obj(
          { appId: str(), appName: str(), endpointId: str(), url: str(), failed: int(), lastFailureAt: nullable(dateTime()) },
          ['appId', 'appName', 'endpointId', 'url', 'failed', 'lastFailureAt'],
        ),
      },
      backlogSeries: {
        type: 'array',
        description:
          'The backlog sampled once a minute over the last 24 hours, oldest first, the last point taken for this answer (equal to backlog). ' +
          'Samples are kept in the memory of the process answering, so the series starts when that process started; on PostgreSQL each API process samples the queue they share.',
        maxItems: 1441,
        items: obj({ at: dateTime(), pending: int(), sending: int() }, ['at', 'pending', 'sending']),
      },
      totals: obj({ applications: int(), endpoints: int(), messages24h: int() }, ['applications', 'endpoints', 'messages24h']),
    },
    ['backlog', 'throughput', 'backlogSeries', 'failingEndpoints', 'totals'],
  ),
  DashboardAppOut: {
    allOf: [
      ref('ApplicationOut'),
      obj(
        {
          endpoints: int(),
          messages24h: int({ description: 'Messages created in the last 24 hours.' }),
          failing: int({ description: 'Endpoints with at least one failed delivery.' }),
        },
        ['endpoints', 'messages24h', 'failing'],
      ),
    ],
  },
  ListResponse_DashboardAppOut_: list('DashboardAppOut'),

  // Svix's remaining sending operations: retry schedules, prechecks, counts and statistics.
  Duration: obj({ secs: int({ minimum: 0, maximum: RETRY_DELAY_MAX_SECONDS }), nanos: int({ minimum: 0, maximum: 999_999_999 }) }, ['secs', 'nanos']),
  RetryScheduleInOut: obj({
    retrySchedule: nullable({
      type: 'array',
      items: ref('Duration'),
      maxItems: RETRY_SCHEDULE_MAX_LENGTH,
      description: "The delays between a failed attempt and the next; the delivery fails after the last. Null: the server's schedule.",
    }),
  }),
  ExportEventTypeOut: {
    ...backgroundTaskOf(['sdk.generate']),
    description: 'Hookwell answers at once with the finished task; `data.openapi` holds the document.',
  },
  EndpointThrottleRateStatusOut: obj(
    {
      status: str({ enum: ['Ok', 'RateLimited'] }),
      throttledSince: nullable(dateTime({ description: 'When throttling started for this endpoint, if currently throttled.' })),
    },
    ['status'],
  ),
  MessagePrecheckIn: obj({ eventType: eventTypeName(), channels: channelList() }, ['eventType']),
  MessagePrecheckOut: obj({ active: bool({ description: 'Whether any active endpoint would be sent such a message.' }) }, ['active']),
  MessageRawPayloadOut: obj({ payload: str() }, ['payload']),
  CountOut: obj(
    {
      count: int({ minimum: 0, description: 'The count of attempts matching the query.' }),
      approximated: bool({ description: 'True when the count stopped at its ceiling: there are more.' }),
    },
    ['count', 'approximated'],
  ),
  MessageAttemptHeadersOut: obj(
    {
      sentHeaders: { type: 'object', additionalProperties: str() },
      responseHeaders: nullable({ type: 'array', items: { type: 'array', items: str(), minItems: 2, maxItems: 2 } }),
      sensitive: { type: 'array', items: str(), uniqueItems: true },
    },
    ['sentHeaders', 'sensitive'],
  ),
  AlertEmailPatch: obj({ email: nullable(str({ maxLength: 1024, description: 'A comma-separated list of email addresses' })) }),
  ActiveAppCount: obj({ count: int({ minimum: 0 }) }, ['count']),
  AppAttemptEventTypeStats: obj({ success: int(), failure: int(), canceled: int() }, ['success', 'failure', 'canceled']),
  AppAttemptStatsOut: obj(
    {
      by_event_type: { type: 'object', additionalProperties: ref('AppAttemptEventTypeStats') },
      total_success: int(),
      total_failure: int(),
      total_canceled: int(),
      since: dateTime(),
      until: dateTime(),
    },
    ['by_event_type', 'total_success', 'total_failure', 'total_canceled', 'since', 'until'],
  ),
  AggregateEventTypesOut: backgroundTaskOf(['event-type.aggregate']),
  AppUsageStatsIn: obj(
    {
      since: dateTime(),
      until: dateTime(),
      appIds: stringList(str({ minLength: 1, maxLength: 256, pattern: NAME_PATTERN }), { maxItems: 1000 }),
    },
    ['since', 'until'],
  ),
  AppUsageStatsOut: {
    allOf: [
      backgroundTaskOf(['application.stats']),
      obj({ unresolvedAppIds: { type: 'array', items: str(), uniqueItems: true } }, ['unresolvedAppIds']),
    ],
  },
  EndpointCountOut: obj({ active: int({ minimum: 0 }), disabled: int({ minimum: 0 }) }, ['active', 'disabled']),
  AttemptStatisticsResponse: obj(
    {
      startDate: dateTime(),
      endDate: dateTime(),
      period: str({ enum: ['OneDay', 'OneHour', 'FiveMinutes'] }),
      data: obj({
        successCount: nullable({ type: 'array', items: int() }),
        failureCount: nullable({ type: 'array', items: int() }),
        canceledCount: nullable({ type: 'array', items: int() }),
      }),
    },
    ['startDate', 'endDate', 'period', 'data'],
  ),
};

export { ref };

// Query strings shared by list routes.
export const listQuery = (extra: Record<string, Schema> = {}, ordered = true): Schema =>
  obj({
    limit: int({ minimum: 1, maximum: 250, default: 50 }),
    iterator: nullable(str({ maxLength: LIMITS.iterator })),
    ...(ordered ? { order: str({ enum: ['ascending', 'descending'] }) } : {}),
    ...extra,
  });

export const messageFilterQuery = (): Record<string, Schema> => ({
  channel: str({ maxLength: 128 }),
  tag: str({ maxLength: 128 }),
  before: dateTime(),
  after: dateTime(),
  // Repeated (?event_types=a&event_types=b) or comma-joined, as the Svix SDK sends it.
  event_types: { type: 'array', items: str({ maxLength: 2560, pattern: '^[a-zA-Z0-9\\-_.,]+$' }), maxItems: 100 },
  data_id: str({ minLength: 1, maxLength: 256, description: 'Hookwell: only messages with this dataId.' }),
  with_content: bool({ default: true }),
});

export const errorResponses = (): Record<string, Schema> => ({
  400: ref('HttpErrorOut'),
  401: ref('HttpErrorOut'),
  403: ref('HttpErrorOut'),
  404: ref('HttpErrorOut'),
  409: ref('HttpErrorOut'),
  422: ref('HTTPValidationError'),
});
