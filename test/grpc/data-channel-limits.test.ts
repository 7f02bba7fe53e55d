// The data channel bounds what one peer can take: connections at once.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { DataServer, fetchImages, MAX_CONNECTIONS } from '../../agent/data.js';
import { TernError } from '../../core/errors.js';
import { testCert } from '../lib/pki.js';

describe('data channel limits', function () {
  this.timeout(20_000);
  let server: DataServer;
  const socks: Socket[] = [];

  before(async () => {
    server = new DataServer(
      // biome-ignore lint/correctness/useYield: serves nothing; the test never gets this far
      async function* () {
        throw new TernError('NOT_FOUND', 'nothing here');
      },
      async () => {
        throw new TernError('NOT_FOUND', 'nothing here');
      },
      await testCert({ role: 'agent', name: 'hostA' }),
      pino({ level: 'silent' }),
    );
    await server.start('127.0.0.1', 0);
  });

  after(async () => {
    for (const s of socks) s.destroy();
    await server?.stop();
  });

  it(`refuses connection ${MAX_CONNECTIONS + 1} while ${MAX_CONNECTIONS} are open`, async () => {
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const s = connect({ host: '127.0.0.1', port: server.port });
      s.on('error', () => {});
      socks.push(s);
      await new Promise((r) => s.once('connect', r));
    }
    // Let the server register them all.
    await new Promise((r) => setTimeout(r, 200));
    const stream = fetchImages(`127.0.0.1:${server.port}`, 'm1', 'a'.repeat(64), {
      certs: await testCert({ role: 'agent', name: 'hostB' }),
      host: 'hostA',
    });
    await assert.rejects(
      (async () => {
        for await (const _ of stream);
      })(),
      (e: TernError) => e.code === 'RESOURCE_EXHAUSTED' && /more than 64 connections/.test(e.message),
    );
  });
});
