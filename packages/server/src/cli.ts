import { Command, Option } from 'commander';
import { ConfigError, httpOrigin, isPostgresUrl, loadConfig, redactUrl, SETTINGS, type Config } from './config.js';
import { createLogger } from './logger.js';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { exportAuditLog, importCatalog, migrateOnly, rekey, startHookwell, verifyAuditLog, VERSION } from './server.js';
import { loadCatalog, type CatalogEntry } from './catalog.js';
import { startListener, type ListenOptions } from './listen.js';
import { BackupError, backupSqlite } from './store/sqlite/backup.js';

function settingsHelp(): string {
  const rows = SETTINGS.map((s) => `  ${(s.flag ? `${s.flag}, ` : '') + s.env}`.padEnd(42) + `${s.help} (default: ${s.shownDefault ?? s.default})`);
  const traces = `  ${'OTEL_EXPORTER_OTLP_ENDPOINT'.padEnd(40)}export OpenTelemetry traces over OTLP/HTTP to this collector; the other standard OTEL_* variables apply (default: off)`;
  return `\nConfiguration (a flag wins over its environment variable):\n${rows.join('\n')}\n${traces}\n`;
}

function configFrom(flags: Partial<Record<keyof Config, string>>): Config {
  try {
    return loadConfig(flags);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`hookwell: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function migrate(flags: Partial<Record<keyof Config, string>>): Promise<void> {
  const cfg = configFrom(flags);
  const log = createLogger(cfg.logLevel, undefined, cfg.logFormat);
  await migrateOnly(cfg, log).catch((err: unknown) => {
    process.stderr.write(`hookwell: migration failed: ${(err as Error).message}\n`);
    process.exit(1);
  });
  log.info({ db: redactUrl(cfg.db) }, 'the database schema is up to date');
}

async function serve(flags: Partial<Record<keyof Config, string>>): Promise<void> {
  const cfg = configFrom(flags);
  const log = createLogger(cfg.logLevel, undefined, cfg.logFormat);
  const hw = await startHookwell(cfg, log).catch((err: unknown) => {
    process.stderr.write(`hookwell: could not start: ${(err as Error).message}\n`);
    process.exit(1);
  });
  if (hw.generatedToken !== null) {
    process.stdout.write(
      `\nGenerated the admin API token. It is shown only this once; keep it safe:\n\n    ${hw.generatedToken}\n\n` +
        `Set HOOKWELL_ADMIN_TOKEN to choose your own instead.\n\n`,
    );
  }
  const where = {
    role: cfg.role,
    db: redactUrl(cfg.db),
    version: VERSION,
    // What a reviewer of a deployment asks first: may it call private addresses, is the data encrypted.
    allowPrivateTargets: cfg.allowPrivateTargets,
    encryption: cfg.encryptionKeys.length > 0,
    logFormat: cfg.logFormat,
    ...(cfg.healthPort === null ? {} : { probes: `${httpOrigin(cfg.host, cfg.healthPort)}/health/ready` }),
  };
  if (hw.url !== null) log.info({ url: hw.url, dashboard: `${hw.url}/dashboard`, ...where }, `hookwell listening on ${hw.url}`);
  else log.info(where, 'hookwell worker started');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, inFlight: hw.dispatcher?.inFlight ?? 0 }, 'draining: no new work is claimed');
    hw.close().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Where this machine's Hookwell answers its readiness probe: a wildcard address is reached on loopback. */
function probeUrl(cfg: Config): string {
  const host = cfg.host === '0.0.0.0' || cfg.host === '' ? '127.0.0.1' : cfg.host === '::' ? '::1' : cfg.host;
  return `${httpOrigin(host, cfg.healthPort ?? cfg.port)}/health/ready`;
}

async function probe(url: string): Promise<void> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    process.stdout.write(`${res.status} ${body}\n`);
    process.exit(res.status === 200 ? 0 : 1);
  } catch (err) {
    process.stderr.write(`hookwell probe: ${url} did not answer: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

async function backup(db: string, to: string): Promise<void> {
  if (isPostgresUrl(db)) {
    process.stderr.write('hookwell backup: copies a SQLite database; back up PostgreSQL with pg_dump (see the README)\n');
    process.exit(2);
  }
  const started = Date.now();
  let shown = -1;
  const tty = process.stderr.isTTY === true;
  try {
    const result = await backupSqlite(db, to, ({ pagesDone, pagesTotal }) => {
      const pct = pagesTotal === 0 ? 100 : Math.floor((pagesDone / pagesTotal) * 100);
      // On a terminal one line moves; in a log, a line each tenth.
      if (tty ? pct === shown : Math.floor(pct / 10) === Math.floor(shown / 10)) return;
      shown = pct;
      process.stderr.write(`${tty ? '\r' : ''}hookwell backup: ${pct}% (${pagesDone} of ${pagesTotal} pages)${tty ? '' : '\n'}`);
    });
    if (tty) process.stderr.write('\n');
    const mb = (result.bytes / 1024 / 1024).toFixed(1);
    process.stdout.write(`backed up ${db} to ${result.file}: ${result.pages} pages, ${mb} MB, in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } catch (err) {
    if (tty && shown >= 0) process.stderr.write('\n');
    process.stderr.write(`hookwell backup: ${(err as Error).message}\n`);
    process.exit(err instanceof BackupError ? 2 : 1);
  }
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('hookwell')
    .description('Self-hosted webhook delivery with a Svix-compatible API')
    .version(VERSION)
    .addHelpText('after', settingsHelp());

  program
    .command('serve')
    .description('serve the management API and deliver webhooks')
    .addOption(new Option('--port <port>', 'listen port (0 picks a free one)').env('HOOKWELL_PORT'))
    .addOption(new Option('--host <host>', 'listen address').env('HOOKWELL_HOST'))
    .addOption(new Option('--db <path-or-url>', 'SQLite file path, or postgres://… URL').env('HOOKWELL_DB'))
    .addOption(new Option('--role <role>', 'api, worker or all (api and worker need PostgreSQL)').env('HOOKWELL_ROLE'))
    .addHelpText('after', settingsHelp())
    .action(async (opts: { port?: string; host?: string; db?: string; role?: string }) => {
      // loadConfig applies flag-over-environment itself; commander's env() only documents it.
      const flags: Partial<Record<keyof Config, string>> = {};
      const explicit = (name: string) => program.commands.find((c) => c.name() === 'serve')!.getOptionValueSource(name) === 'cli';
      if (opts.port !== undefined && explicit('port')) flags.port = opts.port;
      if (opts.host !== undefined && explicit('host')) flags.host = opts.host;
      if (opts.db !== undefined && explicit('db')) flags.db = opts.db;
      if (opts.role !== undefined && explicit('role')) flags.role = opts.role;
      await serve(flags);
    });

  program
    .command('migrate')
    .description("apply the database's schema migrations and exit (serve also applies them at start)")
    .addOption(new Option('--db <path-or-url>', 'SQLite file path, or postgres://… URL').env('HOOKWELL_DB'))
    .action(async (opts: { db?: string }) => {
      const explicit = program.commands.find((c) => c.name() === 'migrate')!.getOptionValueSource('db') === 'cli';
      await migrate(opts.db !== undefined && explicit ? { db: opts.db } : {});
    });

  program
    .command('rekey')
    .description('encrypt everything stored under the first key of HOOKWELL_ENCRYPTION_KEYS (plaintext too); safe while servers run')
    .addOption(new Option('--db <path-or-url>', 'SQLite file path, or postgres://… URL').env('HOOKWELL_DB'))
    .option('--batch <rows>', 'rows re-encrypted per transaction', '500')
    .action(async (opts: { db?: string; batch: string }, cmd: Command) => {
      const cfg = configFrom(opts.db !== undefined && cmd.getOptionValueSource('db') === 'cli' ? { db: opts.db } : {});
      const batch = Number(opts.batch);
      if (!Number.isInteger(batch) || batch < 1 || batch > 100_000) {
        process.stderr.write(`hookwell: --batch must be a whole number from 1 to 100000, got "${opts.batch}"\n`);
        process.exit(2);
      }
      if (cfg.encryptionKeys.length === 0) {
        process.stderr.write('hookwell: rekey needs HOOKWELL_ENCRYPTION_KEYS: the key to encrypt with first, then every key data may be encrypted with\n');
        process.exit(2);
      }
      const log = createLogger(cfg.logLevel, undefined, cfg.logFormat);
      await rekey(cfg, log, batch, (p) => process.stdout.write(`${p.table}: ${p.rows} rows done, ${p.rewritten} values re-encrypted\n`)).catch((err: unknown) => {
        process.stderr.write(`hookwell: rekey failed: ${(err as Error).message}\n`);
        process.exit(1);
      });
      process.stdout.write(`everything is encrypted with key "${cfg.encryptionKeys[0]!.id}"; keys after it can now leave HOOKWELL_ENCRYPTION_KEYS\n`);
    });

  const catalog = program.command('catalog').description('the built-in catalogues of event types (health: Miri, Metriport and Vital events)');
  catalog
    .command('list')
    .description("print a catalogue's event types")
    .argument('[name]', 'the catalogue', 'health')
    .action((name: string) => {
      let entries: CatalogEntry[];
      try {
        entries = loadCatalog(name);
      } catch (err) {
        process.stderr.write(`hookwell: ${(err as Error).message}\n`);
        process.exit(2);
      }
      const width = Math.max(...entries.map((e) => e.name.length));
      for (const e of entries) process.stdout.write(`${e.name.padEnd(width)}  ${e.groupName.padEnd(10)}  ${e.description.split('\n')[0]}\n`);
      process.stdout.write(`${entries.length} event types\n`);
    });
  catalog
    .command('import')
    .description("create or update a catalogue's event types in the database (running it again changes nothing)")
    .argument('[name]', 'the catalogue', 'health')
    .addOption(new Option('--db <path-or-url>', 'SQLite file path, or postgres://… URL').env('HOOKWELL_DB'))
    .action(async (name: string, opts: { db?: string }, cmd: Command) => {
      const cfg = configFrom(opts.db !== undefined && cmd.getOptionValueSource('db') === 'cli' ? { db: opts.db } : {});
      const log = createLogger(cfg.logLevel, undefined, cfg.logFormat);
      const result = await importCatalog(cfg, log, name).catch((err: unknown) => {
        process.stderr.write(`hookwell: catalogue import failed: ${(err as Error).message}\n`);
        process.exit(1);
      });
      process.stdout.write(
        result.modified.length === 0
          ? `the ${name} catalogue's event types were already up to date\n`
          : `created or updated ${result.modified.length} event types of the ${name} catalogue\n`,
      );
    });

  const audit = program.command('audit').description('the audit log: check its hash chain, or export it');
  // An existing database only: opening a mistyped SQLite path would create an empty one, whose empty log verifies.
  const dbOf = (opts: { db?: string }, cmd: Command) => {
    const cfg = configFrom(opts.db !== undefined && cmd.getOptionValueSource('db') === 'cli' ? { db: opts.db } : {});
    if (!isPostgresUrl(cfg.db) && !existsSync(cfg.db)) {
      process.stderr.write(`hookwell: no database at ${cfg.db}; give --db or HOOKWELL_DB\n`);
      process.exit(2);
    }
    return cfg;
  };
  audit
    .command('verify')
    .description("check every entry's hash and its link to the one before; exits 1 naming the first broken entry")
    .addOption(new Option('--db <path-or-url>', 'SQLite file path, or postgres://… URL').env('HOOKWELL_DB'))
    .action(async (opts: { db?: string }, cmd: Command) => {
      const cfg = dbOf(opts, cmd);
      const result = await verifyAuditLog(cfg, createLogger(cfg.logLevel, undefined, cfg.logFormat)).catch((err: unknown) => {
        process.stderr.write(`hookwell: audit verify failed: ${(err as Error).message}\n`);
        process.exit(1);
      });
      if (result.ok) {
        process.stdout.write(`OK: ${result.count} audit entries, chain intact\n`);
        return;
      }
      process.stderr.write(`BROKEN at entry ${result.brokenId}: ${result.why} (${result.count} entries before it are intact)\n`);
      process.exit(1);
    });
  audit
    .command('export')
    .description('write the audit entries from --since on, oldest first, as NDJSON (one JSON object a line)')
    .requiredOption('--since <time>', 'ISO 8601 time, e.g. 2026-01-01T00:00:00Z')
    .option('--to <file>', 'write to this file (created or replaced) instead of standard output')
    .addOption(new Option('--db <path-or-url>', 'SQLite file path, or postgres://… URL').env('HOOKWELL_DB'))
    .action(async (opts: { since: string; to?: string; db?: string }, cmd: Command) => {
      const since = Date.parse(opts.since);
      if (!/^\d{4}-\d{2}-\d{2}/.test(opts.since) || !Number.isFinite(since)) {
        process.stderr.write(`hookwell: --since must be an ISO 8601 time such as 2026-01-01T00:00:00Z, got "${opts.since}"\n`);
        process.exit(2);
      }
      const cfg = dbOf(opts, cmd);
      const out: WriteStream | NodeJS.WriteStream = opts.to === undefined ? process.stdout : createWriteStream(opts.to, { mode: 0o600 });
      const n = await exportAuditLog(cfg, createLogger(cfg.logLevel, undefined, cfg.logFormat), { since }, async (e) => {
        if (!out.write(`${JSON.stringify({ ...e, timestamp: new Date(e.at).toISOString() })}\n`)) await once(out, 'drain');
      }).catch((err: unknown) => {
        process.stderr.write(`hookwell: audit export failed: ${(err as Error).message}\n`);
        process.exit(1);
      });
      if (opts.to !== undefined) {
        await new Promise<void>((resolve, reject) => (out as WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve())));
        process.stderr.write(`wrote ${n} audit entries to ${opts.to}\n`);
      }
    });

  program
    .command('backup')
    .description('copy a live SQLite database into a new file, consistently, while it serves (for PostgreSQL, use pg_dump: see the README)')
    .requiredOption('--to <file>', 'the new file (an existing one is refused)')
    .addOption(new Option('--db <path>', 'the SQLite file to copy').env('HOOKWELL_DB'))
    .action(async (opts: { to: string; db?: string }, cmd: Command) => {
      const cfg = configFrom(opts.db !== undefined && cmd.getOptionValueSource('db') === 'cli' ? { db: opts.db } : {});
      await backup(cfg.db, opts.to);
    });

  program
    .command('probe')
    .description("ask this machine's Hookwell whether it is ready (GET /health/ready on HOOKWELL_HEALTH_PORT, else HOOKWELL_PORT); exits 0 when it is: a container's health check")
    .option('--url <url>', 'probe this URL instead')
    .action(async (opts: { url?: string }) => {
      const cfg = configFrom({});
      await probe(opts.url ?? probeUrl(cfg));
    });

  program
    .command('listen')
    .description('run a local receiver that verifies, prints and answers what Hookwell sends (for development)')
    .option('--port <port>', 'listen port (0 picks a free one)', '4000')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--secret <secret>', "the endpoint's signing secret (whsec_…) or public key (whpk_…); verifies every request")
    .option('--key <key>', 'a webhook key expected in --key-header')
    .option('--key-header <name>', 'the header carrying --key', 'x-webhook-key')
    .option('--fail-rate <rate>', 'share of requests to fail on purpose, 0 to 1', '0')
    .option('--status <code>', 'the status answered when failing on purpose', '500')
    .option('--delay-ms <ms>', 'wait before answering', '0')
    .option('--verbose', 'print each payload too', false)
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const fail = (msg: string) => {
        process.stderr.write(`hookwell listen: ${msg}\n`);
        process.exit(2);
      };
      const num = (name: string, min: number, max: number, whole = true) => {
        const raw = String(opts[name]);
        const n = Number(raw);
        if (raw.trim() === '' || Number.isNaN(n) || n < min || n > max || (whole && !Number.isInteger(n))) {
          fail(`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be ${whole ? 'a whole number' : 'a number'} from ${min} to ${max}, got "${raw}"`);
        }
        return n;
      };
      const options: ListenOptions = {
        port: num('port', 0, 65535),
        host: String(opts.host),
        secret: typeof opts.secret === 'string' ? opts.secret : null,
        key: typeof opts.key === 'string' ? opts.key : null,
        keyHeader: String(opts.keyHeader),
        failRate: num('failRate', 0, 1, false),
        status: num('status', 100, 599),
        delayMs: num('delayMs', 0, 600_000),
        verbose: opts.verbose === true,
      };
      const { url } = await startListener(options).catch((err: Error) => fail(`could not listen: ${err.message}`) as never);
      process.stdout.write(`hookwell listen: receiving on ${url}${options.secret ? ' (verifying signatures)' : ' (not verifying: no --secret)'}\n`);
      process.on('SIGTERM', () => process.exit(0));
      process.on('SIGINT', () => process.exit(0));
    });

  await program.parseAsync(argv);
}
