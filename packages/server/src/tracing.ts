// OpenTelemetry spans for message ingest and delivery attempts, exported over OTLP/HTTP.
//
// Off unless an OTLP endpoint is configured (see config.ts). The SDK is then loaded with
// dynamic imports, so a process without tracing neither loads nor initialises any of it:
// the API and the dispatcher hold a `Tracing | null` and check it for null, nothing more.
import type { Logger } from 'pino';
import type { TracingConfig } from './config.js';
import type { TraceContext } from './domain/trace-context.js';
import type { Work } from './store/store.js';

/** The route of the ingest span, as OpenTelemetry's `http.route` writes a route template. */
export const INGEST_ROUTE = '/api/v1/app/{app_id}/msg';
export const INGEST_SPAN = `POST ${INGEST_ROUTE}`;
export const ATTEMPT_SPAN = 'webhook attempt';

/** The span of one `POST …/msg`, from its start to its answer. */
export interface IngestSpan {
  /** This span's context, which the message is stored with: its attempts are its children. */
  readonly trace: TraceContext;
  /** What the request turned out to be about, once the message exists. */
  message(m: { appId: string; msgId: string; eventType: string }): void;
  /** Ends the span with the answer's status code. */
  end(statusCode: number): void;
}

/** The span of one delivery attempt. */
export interface AttemptSpan {
  /** This span's context: what the attempt sends as `traceparent` and `tracestate`. */
  readonly trace: TraceContext;
  end(result: { statusCode: number; error: string | null }): void;
}

export interface Tracing {
  /** A server span whose parent is the request's own trace context, if it sent a valid one. */
  ingest(incoming: TraceContext | null): IngestSpan;
  /** A client span, child of the message's stored context and linked to it. */
  attempt(w: Work): AttemptSpan;
  /** Exports what is still buffered and stops the exporter. */
  close(): Promise<void>;
}

/** What an answer's status code says of an ingest: accepted (2xx), refused (4xx) or failed. */
export function ingestOutcome(statusCode: number): 'accepted' | 'refused' | 'failed' {
  return statusCode < 400 ? 'accepted' : statusCode < 500 ? 'refused' : 'failed';
}

/**
 * Loads the OpenTelemetry SDK and starts a tracer provider exporting to the configured OTLP
 * URL. The exporter, batching and sampling read the other standard OTEL_* variables
 * themselves (OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_SCHEDULE_DELAY, OTEL_TRACES_SAMPLER…).
 */
export async function startTracing(cfg: TracingConfig, version: string, log: Logger): Promise<Tracing> {
  const [api, core, sdk, otlp, resources, semconv] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: cfg.serviceName, [semconv.ATTR_SERVICE_VERSION]: version }))
    // OTEL_RESOURCE_ATTRIBUTES, and OTEL_SERVICE_NAME again (it wins over the default).
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new sdk.BasicTracerProvider({ resource, spanProcessors: [new sdk.BatchSpanProcessor(new otlp.OTLPTraceExporter({ url: cfg.url }))] });
  const tracer = provider.getTracer('hookwell', version);
  const propagator = new core.W3CTraceContextPropagator();
  const { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace } = api;

  const contextOf = (t: TraceContext | null) =>
    t === null ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, t.tracestate === null ? { traceparent: t.traceparent } : { ...t }, defaultTextMapGetter);
  const headersOf = (ctx: ReturnType<typeof contextOf>): TraceContext => {
    const carrier: Record<string, string> = {};
    propagator.inject(ctx, carrier, defaultTextMapSetter);
    return { traceparent: carrier.traceparent!, tracestate: carrier.tracestate ?? null };
  };

  log.info({ serviceName: cfg.serviceName, otlpUrl: cfg.shownUrl }, 'exporting traces over OTLP/HTTP');
  return {
    ingest(incoming) {
      const parent = contextOf(incoming);
      const span = tracer.startSpan(
        INGEST_SPAN,
        { kind: SpanKind.SERVER, attributes: { [semconv.ATTR_HTTP_REQUEST_METHOD]: 'POST', [semconv.ATTR_HTTP_ROUTE]: INGEST_ROUTE } },
        parent,
      );
      return {
        trace: headersOf(trace.setSpan(parent, span)),
        message(m) {
          span.setAttributes({ 'hookwell.app.id': m.appId, 'hookwell.message.id': m.msgId, 'hookwell.event_type': m.eventType });
        },
        end(statusCode) {
          const outcome = ingestOutcome(statusCode);
          span.setAttributes({ [semconv.ATTR_HTTP_RESPONSE_STATUS_CODE]: statusCode, 'hookwell.outcome': outcome });
          // A refused request is the caller's error, not the server's (HTTP server span rules).
          if (outcome === 'failed') span.setStatus({ code: SpanStatusCode.ERROR }).setAttribute(semconv.ATTR_ERROR_TYPE, String(statusCode));
          span.end();
        },
      };
    },

    attempt(w) {
      const parent = contextOf(w.trace);
      const stored = w.trace === null ? undefined : trace.getSpanContext(parent);
      let server: { [k: string]: string | number } = {};
      try {
        const u = new URL(w.url);
        server = { [semconv.ATTR_SERVER_ADDRESS]: u.hostname, [semconv.ATTR_SERVER_PORT]: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
      } catch {
        // The sender reports the URL as the attempt's error.
      }
      const span = tracer.startSpan(
        ATTEMPT_SPAN,
        {
          kind: SpanKind.CLIENT,
          // Linked as well as parented, as messaging spans link their message's creation:
          // a view that shows a trace's links finds the ingest from any attempt of it.
          links: stored === undefined ? [] : [{ context: stored }],
          attributes: {
            [semconv.ATTR_HTTP_REQUEST_METHOD]: 'POST',
            ...server,
            'hookwell.app.id': w.appId,
            'hookwell.message.id': w.msgId,
            'hookwell.endpoint.id': w.endpointId,
            'hookwell.event_type': w.eventType,
            'hookwell.attempt': w.attempts + 1,
          },
        },
        parent,
      );
      return {
        trace: headersOf(trace.setSpan(parent, span)),
        end(result) {
          const ok = result.statusCode >= 200 && result.statusCode < 300;
          if (result.statusCode > 0) span.setAttribute(semconv.ATTR_HTTP_RESPONSE_STATUS_CODE, result.statusCode);
          span.setAttribute('hookwell.outcome', ok ? 'success' : 'failure');
          if (!ok) {
            span.setAttribute(semconv.ATTR_ERROR_TYPE, result.statusCode > 0 ? String(result.statusCode) : 'no_response');
            span.setStatus({ code: SpanStatusCode.ERROR, message: result.error ?? `answered ${result.statusCode}` });
          }
          span.end();
        },
      };
    },

    async close() {
      await provider.shutdown().catch((err: unknown) => log.warn({ err }, 'exporting the last traces failed'));
    },
  };
}
