import { Command, Option } from 'commander';
import { ConfigError, loadConfig, SETTINGS, type Config } from './config.js';
import { createLogger } from './logger.js';
import { startHookwell, VERSION } from './server.js';

function settingsHelp(): string {
  const rows = SETTINGS.map((s) => `  ${(s.flag ? `${s.flag}, ` : '') + s.env}`.padEnd(42) + `${s.help} (default: ${s.default || 'generated'})`);
  return `\nConfiguration (a flag wins over its environment variable):\n${rows.join('\n')}\n`;
}

async function serve(flags: Partial<Record<keyof Config, string>>): Promise<void> {
  let cfg: Config;
  try {
    cfg = loadConfig(flags);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`hookwell: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(cfg.logLevel);
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
  log.info({ url: hw.url, db: cfg.db, version: VERSION }, `hookwell listening on ${hw.url}`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, inFlight: hw.dispatcher.inFlight }, 'draining: no new work is claimed');
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
    .addOption(new Option('--db <path>', 'SQLite file path').env('HOOKWELL_DB'))
    .addHelpText('after', settingsHelp())
    .action(async (opts: { port?: string; host?: string; db?: string }) => {
      // loadConfig applies flag-over-environment itself; commander's env() only documents it.
      const flags: Partial<Record<keyof Config, string>> = {};
      const explicit = (name: string) => program.commands.find((c) => c.name() === 'serve')!.getOptionValueSource(name) === 'cli';
      if (opts.port !== undefined && explicit('port')) flags.port = opts.port;
      if (opts.host !== undefined && explicit('host')) flags.host = opts.host;
      if (opts.db !== undefined && explicit('db')) flags.db = opts.db;
      await serve(flags);
    });

  await program.parseAsync(argv);
}
