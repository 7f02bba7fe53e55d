// The agent's container records: a record that is removed (the source side of
// a committed migration) must stay removed even if a listing that found its
// tree dead was in flight at that moment.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AGENT_DEFAULTS } from '../../agent/config.js';
import { type ContainerRecord, Containers } from '../../agent/containers.js';
import { LinuxHost } from '../../kernel/linux-host.js';

/** The pid of a process that has already exited and been reaped. */
function deadPid(): number {
  return spawnSync('true').pid as number;
}

describe('agent container records', () => {
  let dir: string;
  let containers: Containers;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tern-containers-'));
    containers = new Containers(
      {
        ...AGENT_DEFAULTS,
        host: 'unit',
        listen: '127.0.0.1:0',
        coordinator: '127.0.0.1:1',
        stateDir: dir,
        fastDir: '',
      },
      new LinuxHost(),
      pino({ level: 'silent' }),
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const record = (name: string): ContainerRecord => ({
    name,
    ip: '10.78.0.10/24',
    mac: '02:00:00:00:00:01',
    veth: 'terntest0',
    pid: deadPid(),
    shimPid: 0,
    startTime: '1',
    hostname: name,
    command: ['/bin/true'],
    createdMs: Date.now(),
    state: 'frozen',
    migrationId: 'm1',
  });

  it('a listing racing a removal does not bring the record back as exited', async () => {
    for (let i = 0; i < 20; i++) {
      const name = `c${i}`;
      await containers.save(record(name));
      // Both listings find the tree dead while the migration's commit removes the record.
      const listings = [containers.list(), containers.list()];
      await containers.remove(name);
      await Promise.all(listings);
      assert.equal(containers.find(name), undefined, `record ${name} came back`);
      assert.equal(existsSync(containers.dir(name)), false, `directory of ${name} came back`);
    }
  });

  it('a listing still marks a record whose tree died as exited', async () => {
    await containers.save({ ...record('gone'), state: 'running', migrationId: undefined });
    const [rec] = await containers.list();
    assert.equal(rec.state, 'exited');
  });
});
