import { randomBytes, createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig } from './config/load.js';
import { isGatewayError } from '../protocol/errors.js';
import { formatProblem } from './config/problems.js';
import { createLogger } from './log.js';
import { startGateway, type Gateway } from './main.js';
import { GATEWAY_VERSION } from './version.js';

const USAGE = `usage:
  passerelle start --config <dir>         run the gateway
  passerelle check-config --config <dir>  validate the configuration, start nothing (exit 0 valid, 1 invalid)
  passerelle token                        make a bearer token; prints it once and the sha256 for participants.yaml
  passerelle keygen                       print a random 32-byte key (hex) for dataKey files
  passerelle --version`;

/** Entry point of the `passerelle` bin. Returns the exit code (start resolves only on shutdown). */
export async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv], allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, version: { type: 'boolean', short: 'v' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const command = positionals[0];
  switch (command) {
    case 'start':
    case 'check-config':
      return runWithConfig(command, values.config ?? 'config');
    case 'token': {
      // The prefix keeps a token from starting with '-' (base64url can), which a command line would
      // read as an option, and lets secret scanners recognise a leaked one.
      const token = `psl_${randomBytes(32).toString('base64url')}`;
      process.stdout.write(`token:  ${token}\nsha256: ${createHash('sha256').update(token).digest('hex')}\n`);
      process.stderr.write('Give the token to the participant once (it is not stored); put the sha256 line in participants.yaml.\n');
      return 0;
    }
    case 'keygen':
      process.stdout.write(`${randomBytes(32).toString('hex')}\n`);
      return 0;
    default:
      process.stderr.write(`${values.help ? '' : `unknown command: ${command ?? '(none)'}\n`}${USAGE}\n`);
      return values.help ? 0 : 2;
  }
}

async function runWithConfig(command: 'start' | 'check-config', dir: string): Promise<number> {
  const loaded = loadConfig(dir);
  if (!loaded.ok) {
    for (const problem of loaded.problems) process.stderr.write(`${formatProblem(problem)}\n`);
    process.stderr.write(`${loaded.problems.length} configuration problem(s); nothing was started.\n`);
    return 1;
  }
  if (command === 'check-config') {
    process.stdout.write(`configuration in ${loaded.config.dir} is valid\n`);
    return 0;
  }
  const log = createLogger({ level: loaded.config.gateway.log.level });
  let gateway: Gateway;
  try {
    gateway = await startGateway(loaded.config, log);
  } catch (err) {
    // A taken port is an admin's fix, not a bug: one line naming the listener and its config key.
    if (!isGatewayError(err) || err.code !== 'PSL_PORT_IN_USE') throw err;
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      gateway.stop().then(resolve, (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  return 0;
}

function packageVersion(): string {
  return GATEWAY_VERSION;
}
