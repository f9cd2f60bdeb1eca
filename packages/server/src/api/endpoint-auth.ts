// How deliveries authenticate to an endpoint beyond the signature, as Svix's API sets it:
// OAuth 2 client credentials (…/oauth), a client certificate (…/mtls) and a server CA (…/ca).
// Secrets (the client secret, the private key) are write-only: no answer carries them.
import type { FastifyInstance } from 'fastify';
import { NotFoundError, ValidationError } from '../domain/errors.js';
import { checkCaBundle, parseClientIdentity, PemError } from '../domain/endpoint-auth.js';
import type { Endpoint, EndpointAuth, EndpointOauth } from '../domain/types.js';
import { errorResponses, ref } from './schemas.js';
import type { Deps } from './http.js';
import { checkHeaders, checkHeaderSize, checkUrl, requireEndpoint } from './endpoints.js';

interface OauthBody {
  grantType: 'clientCredentials' | 'refreshToken';
  authMethod: 'clientSecretJwt' | 'clientSecretBasic' | 'clientSecretPost';
  jwtParams?: Record<string, unknown> | null;
  clientId: string;
  clientSecret?: string | null;
  tokenUrl: string;
  scopes?: string[] | null;
  extraParams?: Record<string, string> | null;
  refreshToken?: string | null;
  extraHeaders?: Record<string, string> | null;
}

type P = { Params: { app_id: string; endpoint_id: string } };

const params = {
  type: 'object',
  properties: { app_id: { type: 'string' }, endpoint_id: { type: 'string', description: 'Endpoint id or uid' } },
  required: ['app_id', 'endpoint_id'],
};
const tags = ['Endpoint'];
const noContent = { 204: { type: 'null', description: 'Done' }, ...errorResponses() };

/** What the request asks for, checked as a delivery will use it; 422 naming the field otherwise. */
export function oauthFrom(b: OauthBody): EndpointOauth {
  if (b.grantType !== 'clientCredentials') {
    throw ValidationError.field(['body', 'grantType'], `grant type "${b.grantType}" is not supported: Hookwell fetches tokens with clientCredentials only`);
  }
  if (b.authMethod === 'clientSecretJwt') {
    throw ValidationError.field(['body', 'authMethod'], 'clientSecretJwt is not supported: use clientSecretBasic or clientSecretPost');
  }
  if (b.clientSecret === undefined || b.clientSecret === null) {
    throw ValidationError.field(['body', 'clientSecret'], `${b.authMethod} needs a clientSecret`);
  }
  checkUrl(b.tokenUrl, ['body', 'tokenUrl']);
  if (b.extraHeaders) {
    checkHeaders(b.extraHeaders, ['body', 'extraHeaders']);
    checkHeaderSize(b.extraHeaders, ['body', 'extraHeaders']);
    const auth = Object.keys(b.extraHeaders).find((h) => h.toLowerCase() === 'authorization');
    if (auth !== undefined && b.authMethod === 'clientSecretBasic') {
      throw ValidationError.field(['body', 'extraHeaders', auth], 'clientSecretBasic sends its own Authorization header to the token URL');
    }
  }
  const reserved = Object.keys(b.extraParams ?? {}).find((k) => ['grant_type', 'scope', 'client_id', 'client_secret'].includes(k));
  if (reserved !== undefined) throw ValidationError.field(['body', 'extraParams', reserved], `"${reserved}" is set from the configuration itself`);
  return {
    grantType: 'clientCredentials',
    authMethod: b.authMethod,
    clientId: b.clientId,
    clientSecret: b.clientSecret,
    tokenUrl: b.tokenUrl,
    scopes: b.scopes ?? null,
    extraParams: b.extraParams ?? null,
    extraHeaders: b.extraHeaders ?? null,
  };
}

/** Svix's EndpointOauthConfigOut: everything but the secret. */
export function presentOauth(o: EndpointOauth) {
  return {
    grantType: o.grantType,
    authMethod: o.authMethod,
    clientId: o.clientId,
    tokenUrl: o.tokenUrl,
    scopes: o.scopes,
    extraParams: o.extraParams,
    extraHeaders: o.extraHeaders,
  };
}

function pemField(check: () => void, field: string): void {
  try {
    check();
  } catch (err) {
    if (err instanceof PemError) throw ValidationError.field(['body', field], err.message);
    throw err;
  }
}

export function endpointAuthRoutes(app: FastifyInstance, d: Deps): void {
  const setAuth = async (endpoint: Endpoint, change: Partial<EndpointAuth>): Promise<void> => {
    await d.store.updateEndpoint(endpoint.appId, endpoint.id, { auth: change });
  };

  app.get<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/oauth',
    {
      schema: {
        operationId: 'v1.endpoint.get-oauth',
        summary: "Get the endpoint's OAuth configuration (404 when it has none); the client secret is never shown",
        tags,
        params,
        response: { 200: ref('EndpointOauthConfigOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const { endpoint } = await requireEndpoint(d, req);
      if (endpoint.auth.oauth === null) throw new NotFoundError('OAuth configuration of endpoint', req.params.endpoint_id);
      return presentOauth(endpoint.auth.oauth);
    },
  );

  app.put<P & { Body: OauthBody }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/oauth',
    {
      schema: {
        operationId: 'v1.endpoint.set-oauth-config',
        summary: 'Set the OAuth 2 client credentials deliveries fetch their bearer token with',
        tags,
        params,
        body: ref('EndpointOauthConfigIn'),
        response: noContent,
      },
    },
    async (req, reply) => {
      const { endpoint } = await requireEndpoint(d, req);
      await setAuth(endpoint, { oauth: oauthFrom(req.body) });
      return reply.code(204).send();
    },
  );

  app.delete<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/oauth',
    { schema: { operationId: 'v1.endpoint.delete-oauth-config', summary: "Remove the endpoint's OAuth configuration", tags, params, response: noContent } },
    async (req, reply) => {
      const { endpoint } = await requireEndpoint(d, req);
      if (endpoint.auth.oauth !== null) await setAuth(endpoint, { oauth: null });
      return reply.code(204).send();
    },
  );

  app.get<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/oauth-config',
    {
      schema: {
        operationId: 'v1.endpoint.get-oauth-2',
        summary: "Whether the endpoint uses OAuth, and its configuration (without the client secret)",
        tags,
        params,
        response: { 200: ref('EndpointOauthOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const { oauth } = (await requireEndpoint(d, req)).endpoint.auth;
      return { enabled: oauth !== null, config: oauth === null ? null : presentOauth(oauth) };
    },
  );

  app.get<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/mtls',
    {
      schema: {
        operationId: 'v1.endpoint.get-mtls',
        summary: 'Get the mTLS configuration (404 when the endpoint has none); the identity is never shown',
        tags,
        params,
        response: { 200: ref('EndpointMtlsConfigOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const { endpoint } = await requireEndpoint(d, req);
      if (endpoint.auth.mtlsIdentity === null) throw new NotFoundError('mTLS configuration of endpoint', req.params.endpoint_id);
      return {};
    },
  );

  app.put<P & { Body: { identity: string } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/mtls',
    {
      schema: {
        operationId: 'v1.endpoint.set-mtls-config',
        summary: 'Set the client certificate deliveries present to the endpoint (mTLS)',
        tags,
        params,
        body: ref('EndpointMtlsConfigIn'),
        response: noContent,
      },
    },
    async (req, reply) => {
      const { endpoint } = await requireEndpoint(d, req);
      pemField(() => parseClientIdentity(req.body.identity), 'identity');
      await setAuth(endpoint, { mtlsIdentity: req.body.identity });
      return reply.code(204).send();
    },
  );

  app.delete<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/mtls',
    { schema: { operationId: 'v1.endpoint.delete-mtls-config', summary: "Remove the endpoint's client certificate", tags, params, response: noContent } },
    async (req, reply) => {
      const { endpoint } = await requireEndpoint(d, req);
      if (endpoint.auth.mtlsIdentity !== null) await setAuth(endpoint, { mtlsIdentity: null });
      return reply.code(204).send();
    },
  );

  app.get<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/mtls-config',
    {
      schema: {
        operationId: 'v1.endpoint.get-mtls-2',
        summary: 'Whether deliveries present a client certificate (mTLS) to the endpoint',
        tags,
        params,
        response: { 200: ref('EndpointMtlsOut'), ...errorResponses() },
      },
    },
    async (req) => {
      const enabled = (await requireEndpoint(d, req)).endpoint.auth.mtlsIdentity !== null;
      return { enabled, config: enabled ? {} : null };
    },
  );

  app.get<P>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/ca',
    {
      schema: {
        operationId: 'v1.endpoint.get-server-ca',
        summary: "Get the CA the endpoint's server certificate must chain to (null: the public roots)",
        tags,
        params,
        response: { 200: ref('EndpointServerCaOut'), ...errorResponses() },
      },
    },
    async (req) => ({ cert: (await requireEndpoint(d, req)).endpoint.auth.serverCa }),
  );

  app.put<P & { Body: { cert?: string | null } }>(
    '/api/v1/app/:app_id/endpoint/:endpoint_id/ca',
    {
      schema: {
        operationId: 'v1.endpoint.set-server-ca',
        summary: "Set the CA the endpoint's server certificate must chain to, or null for the public roots",
        tags,
        params,
        body: ref('EndpointServerCaIn'),
        response: noContent,
      },
    },
    async (req, reply) => {
      const { endpoint } = await requireEndpoint(d, req);
      const cert = req.body.cert ?? null;
      if (cert !== null) pemField(() => checkCaBundle(cert), 'cert');
      await setAuth(endpoint, { serverCa: cert });
      return reply.code(204).send();
    },
  );
}
