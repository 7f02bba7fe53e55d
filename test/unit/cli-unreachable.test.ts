// What the CLI says when no coordinator answers: one address, or a list of
// coordinators on etcd of which none leads.
import assert from 'node:assert/strict';
import { unreachable } from '../../bin/cli.js';

describe('cli: no coordinator answered', () => {
  it('names the one address and how to start a coordinator', () => {
    const m = unreachable('127.0.0.1:7777');
    assert.match(m, /cannot reach the coordinator at 127\.0\.0\.1:7777/);
    assert.match(m, /is it running/);
  });

  it('with a list, says that none leads and points at etcd quorum and the logs', () => {
    const m = unreachable('10.77.0.1:7777,10.77.0.2:7777');
    assert.match(m, /no coordinator of 10\.77\.0\.1:7777,10\.77\.0\.2:7777 answered/);
    assert.match(m, /none leads now/);
    assert.match(m, /quorum/);
    assert.match(m, /journalctl -u tern-coordinator/);
  });
});
