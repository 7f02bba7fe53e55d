import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { type ErrorCode, isUnreachable, TernError } from '../../core/errors.js';
import { channelTarget, grpcTarget } from '../../proto/index.js';
import { fromServiceError, toServiceError } from '../../proto/rpc.js';

const CODES: [ErrorCode, grpc.status][] = [
  ['INVALID_ARGUMENT', grpc.status.INVALID_ARGUMENT],
  ['NOT_FOUND', grpc.status.NOT_FOUND],
  ['ALREADY_EXISTS', grpc.status.ALREADY_EXISTS],
  ['FAILED_PRECONDITION', grpc.status.FAILED_PRECONDITION],
  ['RESOURCE_EXHAUSTED', grpc.status.RESOURCE_EXHAUSTED],
  ['UNAVAILABLE', grpc.status.UNAVAILABLE],
  ['ABORTED', grpc.status.ABORTED],
  ['CANCELLED', grpc.status.CANCELLED],
  ['DEADLINE_EXCEEDED', grpc.status.DEADLINE_EXCEEDED],
  ['DATA_LOSS', grpc.status.DATA_LOSS],
  ['PERMISSION_DENIED', grpc.status.PERMISSION_DENIED],
  ['INTERNAL', grpc.status.INTERNAL],
];

describe('rpc', () => {
  describe('toServiceError', () => {
    for (const [code, status] of CODES) {
      it(`maps ${code} to status ${grpc.status[status]}`, () => {
        const msg = `container web-2: ${code.toLowerCase()} happened`;
        const se = toServiceError(new TernError(code, msg));
        assert.equal(se.code, status);
        assert.equal(se.details, msg);
        assert.equal(se.message, msg);
      });
    }

    it('hides an unexpected error behind UNKNOWN and a generic message', () => {
      const secret = 'ENOENT: open /var/lib/tern/secret-path';
      for (const err of [new Error(secret), new TypeError(secret), secret, { message: secret }]) {
        const se = toServiceError(err);
        assert.equal(se.code, grpc.status.UNKNOWN);
        assert.equal(se.details, 'internal error (see the daemon log)');
        assert.ok(!JSON.stringify(se).includes('secret-path'), JSON.stringify(se));
      }
    });

    it('handles undefined and null', () => {
      assert.equal(toServiceError(undefined).code, grpc.status.UNKNOWN);
      assert.equal(toServiceError(null).code, grpc.status.UNKNOWN);
    });

    it('logs an unexpected error to the given logger', () => {
      const logged: unknown[][] = [];
      const log = { error: (...args: unknown[]) => logged.push(args) };
      const err = new Error('boom');
      toServiceError(err, log as never);
      assert.deepEqual(logged, [[{ err }, 'unexpected error']]);
    });

    it('passes a downstream gRPC error through unchanged', () => {
      const downstream = Object.assign(new Error('14 UNAVAILABLE: hostB: connection refused'), {
        code: grpc.status.UNAVAILABLE,
        details: 'hostB: connection refused',
        metadata: new grpc.Metadata(),
      });
      assert.deepEqual(toServiceError(downstream), {
        code: grpc.status.UNAVAILABLE,
        details: 'hostB: connection refused',
        message: 'hostB: connection refused',
      });
    });

    it('does not treat a Node system error (string code) as a gRPC error', () => {
      const e = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', details: 'x' });
      assert.equal(toServiceError(e).code, grpc.status.UNKNOWN);
    });
  });

  describe('fromServiceError', () => {
    const se = (code: grpc.status, details: string) =>
      Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), {
        code,
        details,
        metadata: new grpc.Metadata(),
      });

    for (const [code, status] of CODES) {
      if (code === 'UNAVAILABLE' || code === 'DEADLINE_EXCEEDED') continue;
      it(`maps status ${grpc.status[status]} back to ${code} with the server's message`, () => {
        const err = se(status, 'image file a.img sent twice');
        const te = fromServiceError(err, 'hostB');
        assert.ok(te instanceof TernError);
        assert.equal(te.code, code);
        assert.equal(te.message, 'image file a.img sent twice');
        assert.equal(te.cause, err);
      });
    }

    it('round trips every code through toServiceError', () => {
      for (const [code] of CODES) {
        const te = fromServiceError(toServiceError(new TernError(code, 'm')), 'w');
        assert.equal(te.code, code);
      }
    });

    it('prefixes UNAVAILABLE with what was called', () => {
      const te = fromServiceError(se(grpc.status.UNAVAILABLE, 'No connection established'), 'agent hostB');
      assert.equal(te.code, 'UNAVAILABLE');
      assert.equal(te.message, 'agent hostB: No connection established');
    });

    it('marks a peer that was never connected as unreachable, and a peer that answered as not', () => {
      const local = fromServiceError(
        se(grpc.status.UNAVAILABLE, 'No connection established. Last error: x'),
        'ps',
      );
      assert.ok(isUnreachable(local));
      // The coordinator relaying that one of its agents is unreachable did answer.
      const relayed = fromServiceError(se(grpc.status.UNAVAILABLE, 'hostB: No connection established'), 'ps');
      assert.equal(isUnreachable(relayed), false);
      assert.equal(isUnreachable(fromServiceError(se(grpc.status.INTERNAL, 'boom'), 'ps')), false);
    });

    it('says "unreachable" for UNAVAILABLE without details', () => {
      const te = fromServiceError(se(grpc.status.UNAVAILABLE, ''), 'agent hostB');
      assert.equal(te.message, 'agent hostB: unreachable');
    });

    it('prefixes DEADLINE_EXCEEDED with what was called', () => {
      const te = fromServiceError(se(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded'), 'Dump');
      assert.equal(te.code, 'DEADLINE_EXCEEDED');
      assert.equal(te.message, 'Dump: Deadline exceeded');
    });

    it('maps an unmapped status to INTERNAL', () => {
      for (const status of [grpc.status.UNKNOWN, grpc.status.UNIMPLEMENTED, grpc.status.UNAUTHENTICATED]) {
        const te = fromServiceError(se(status, 'nope'), 'x');
        assert.equal(te.code, 'INTERNAL');
        assert.equal(te.message, 'nope');
      }
    });

    it('falls back to the message, then to what, when details are empty', () => {
      assert.equal(
        fromServiceError({ code: grpc.status.NOT_FOUND, details: '', message: 'm' }, 'w').message,
        'm',
      );
      assert.equal(
        fromServiceError({ code: grpc.status.NOT_FOUND, details: '', message: '' }, 'w').message,
        'w',
      );
    });

    it('returns a TernError unchanged', () => {
      const te = new TernError('NOT_FOUND', 'no such container');
      assert.equal(fromServiceError(te, 'x'), te);
    });

    it('wraps anything else as INTERNAL with what as prefix', () => {
      const te = fromServiceError(new Error('socket hang up'), 'agent hostB');
      assert.equal(te.code, 'INTERNAL');
      assert.equal(te.message, 'agent hostB: socket hang up');
      assert.equal(fromServiceError('weird', 'x').message, 'x: weird');
    });
  });
});

describe('grpcTarget and channelTarget', () => {
  it('keeps one address, makes unix paths unix targets, and makes a list of coordinators one channel', () => {
    assert.equal(grpcTarget('10.0.0.1:7700'), '10.0.0.1:7700');
    assert.equal(grpcTarget('/run/tern/c.sock'), 'unix:///run/tern/c.sock');
    assert.equal(grpcTarget('10.0.0.1:7700, 10.0.0.2:7700'), 'ipv4:10.0.0.1:7700,10.0.0.2:7700');
    assert.equal(grpcTarget('[fd00::1]:7700,[fd00::2]:7700'), 'ipv6:[fd00::1]:7700,[fd00::2]:7700');
    assert.throws(() => grpcTarget('c1.example:7700,c2.example:7700'), /all IPv4 or all \[IPv6\]/);
    assert.throws(() => grpcTarget('10.0.0.1:7700,[fd00::2]:7700'), /all IPv4 or all \[IPv6\]/);
  });

  it('a client channel to one IP address goes to the IP resolver (no DNS resolver); the rest as grpcTarget', () => {
    const cases: [string, string][] = [
      ['10.0.0.1:7700', 'ipv4:10.0.0.1:7700'],
      ['[fd00::1]:7700', 'ipv6:[fd00::1]:7700'],
      ['coord.example:7700', 'coord.example:7700'],
      ['/run/tern/c.sock', 'unix:///run/tern/c.sock'],
      ['10.0.0.1:7700,10.0.0.2:7700', 'ipv4:10.0.0.1:7700,10.0.0.2:7700'],
    ];
    for (const [address, target] of cases) assert.equal(channelTarget(address), target, address);
  });
});
