#!/usr/bin/env node
// tern-agent: the per-host daemon (see deploy/systemd/tern-agent.service).
import { agentOptions } from '../agent/config.js';
import { Agent } from '../agent/server.js';
import { errorMessage } from '../core/errors.js';
import { CriuEngine } from '../kernel/criu.js';
import { daemonLogger } from './log.js';

async function main() {
  // Files the daemon makes are its own (containers get 022 back in tern-shim).
  process.umask(0o077);
  const opts = agentOptions(process.argv.slice(2));
  const log = daemonLogger('tern-agent', opts.logLevel).child({ host: opts.host });
  const engine = new CriuEngine({
    criuPath: opts.criu,
    shimPath: opts.shim,
    onNotice: (message) => log.warn(message),
  });
  const agent = new Agent(opts, engine, log);
  await agent.start();
  const shutdown = async (sig: string) => {
    // Containers are separate trees under their shims: they keep running.
    log.info({ sig }, 'agent stopping; containers keep running');
    await agent.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`tern-agent: ${errorMessage(e)}\n`);
  process.exit(1);
});
