import assert from 'node:assert/strict';
import { randomMac, vethName } from '../../agent/policy.js';
import { TernError } from '../../core/errors.js';
import { validateName } from '../../core/names.js';
import { formatIp, parseCidr, parseIp, pickFreeAddress, validateAddress } from '../../core/net.js';

/** Asserts that fn throws an INVALID_ARGUMENT TernError whose message matches `message`. */
function assertInvalid(fn: () => unknown, message: RegExp | string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TernError, `expected a TernError, got ${String(e)}`);
    assert.equal(e.code, 'INVALID_ARGUMENT');
    if (typeof message === 'string') assert.ok(e.message.includes(message), `message: ${e.message}`);
    else assert.match(e.message, message);
    return true;
  });
}

describe('policy', () => {
  describe('validateName', () => {
    for (const name of ['c1', 'web-2', 'a.b_c', 'A9', 'x'.repeat(63)]) {
      it(`accepts ${JSON.stringify(name.length > 20 ? `${name.slice(0, 8)}...(${name.length})` : name)}`, () => {
        assert.equal(validateName('container', name), name);
      });
    }

    const rejected: { name: string; message: RegExp | string }[] = [
      { name: '', message: 'container name is empty' },
      { name: 'a/b', message: '"/"' },
      { name: '..', message: '"/"' },
      { name: '../x', message: '"/"' },
      { name: 'a\0b', message: '"/"' },
      { name: '-x', message: '"-x"' },
      { name: '.x', message: '".x"' },
      { name: 'x'.repeat(64), message: JSON.stringify('x'.repeat(64)) },
      { name: 'a b', message: '"a b"' },
      { name: 'ünï', message: '"ünï"' },
    ];
    for (const { name, message } of rejected) {
      it(`rejects ${JSON.stringify(name.length > 20 ? `${name.slice(0, 4)}...(${name.length})` : name)}`, () => {
        assertInvalid(() => validateName('container', name), message);
      });
    }

    it('names the kind in its messages', () => {
      assertInvalid(() => validateName('host', 'a b'), /^invalid host name "a b"/);
      assertInvalid(() => validateName('host', ''), 'host name is empty');
    });
  });

  describe('parseIp / formatIp', () => {
    const table: [string, number][] = [
      ['0.0.0.0', 0],
      ['10.78.0.1', 0x0a4e0001],
      ['192.168.1.255', 0xc0a801ff],
      ['255.255.255.255', 0xffffffff],
    ];
    for (const [ip, n] of table) {
      it(`${ip} <-> ${n}`, () => {
        assert.equal(parseIp(ip), n);
        assert.equal(formatIp(n), ip);
      });
    }

    it('returns unsigned numbers for high addresses', () => {
      assert.ok(parseIp('200.0.0.1') > 0);
    });

    for (const bad of ['256.1.1.1', '1.2.3', 'abc', '1.2.3.4.5', '', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4/24']) {
      it(`rejects ${JSON.stringify(bad)}`, () => {
        assertInvalid(() => parseIp(bad), `invalid IPv4 address ${JSON.stringify(bad)}`);
      });
    }
  });

  describe('parseCidr', () => {
    it('masks the base address to the prefix', () => {
      assert.deepEqual(parseCidr('10.78.0.0/24'), { base: parseIp('10.78.0.0'), prefix: 24 });
      assert.deepEqual(parseCidr('10.78.3.77/16'), { base: parseIp('10.78.0.0'), prefix: 16 });
      assert.deepEqual(parseCidr('192.168.5.130/30'), { base: parseIp('192.168.5.128'), prefix: 30 });
      assert.deepEqual(parseCidr('10.1.2.3/8'), { base: parseIp('10.0.0.0'), prefix: 8 });
    });

    for (const bad of [
      '10.0.0.0',
      '10.0.0.0/',
      '10.0.0.0/7',
      '10.0.0.0/31',
      '10.0.0.0/32',
      '10.0.0.0/x',
      '10.0.0.0/24.5',
    ]) {
      it(`rejects ${JSON.stringify(bad)}`, () => {
        assertInvalid(() => parseCidr(bad), `invalid network ${JSON.stringify(bad)}`);
      });
    }

    it('rejects a bad address part', () => {
      assertInvalid(() => parseCidr('10.0.0.300/24'), 'invalid IPv4 address');
    });
  });

  describe('validateAddress', () => {
    const lan = '10.78.0.0/24';
    it('accepts an address inside the LAN with the LAN prefix', () => {
      assert.equal(validateAddress('10.78.0.42/24', lan), '10.78.0.42/24');
    });
    it('adds the LAN prefix when omitted', () => {
      assert.equal(validateAddress('10.78.0.42', lan), '10.78.0.42/24');
      assert.equal(validateAddress('172.16.3.1', '172.16.0.0/16'), '172.16.3.1/16');
    });
    it('accepts the first and last host addresses', () => {
      assert.equal(validateAddress('10.78.0.1', lan), '10.78.0.1/24');
      assert.equal(validateAddress('10.78.0.254', lan), '10.78.0.254/24');
    });

    const rejected: { addr: string; lan?: string; message: string }[] = [
      { addr: '10.79.0.5', message: 'address 10.79.0.5 is outside the container LAN 10.78.0.0/24' },
      { addr: '192.168.0.5/24', message: 'outside the container LAN' },
      { addr: '10.78.0.5/16', message: "must use the LAN's prefix /24" },
      { addr: '10.78.0.5/25', message: "must use the LAN's prefix /24" },
      { addr: '10.78.0.5/', message: "must use the LAN's prefix /24" },
      { addr: '10.78.0.0', message: 'address 10.78.0.0 is the network or broadcast address' },
      { addr: '10.78.0.255/24', message: 'address 10.78.0.255 is the network or broadcast address' },
      { addr: '10.78.0.16', lan: '10.78.0.16/28', message: 'network or broadcast' },
      { addr: '10.78.0.31', lan: '10.78.0.16/28', message: 'network or broadcast' },
      { addr: '10.78.0.300', message: 'invalid IPv4 address' },
    ];
    for (const { addr, lan: l, message } of rejected) {
      it(`rejects ${addr} in ${l ?? lan}`, () => {
        assertInvalid(() => validateAddress(addr, l ?? lan), message);
      });
    }
  });

  describe('pickFreeAddress', () => {
    it('starts at host number 10', () => {
      assert.equal(pickFreeAddress('10.78.0.0/24', []), '10.78.0.10/24');
      assert.equal(pickFreeAddress('172.16.0.0/16', []), '172.16.0.10/16');
    });

    it('skips used addresses given with or without a prefix', () => {
      assert.equal(
        pickFreeAddress('10.78.0.0/24', ['10.78.0.10/24', '10.78.0.11', '10.78.0.13/24']),
        '10.78.0.12/24',
      );
    });

    it('ignores empty entries', () => {
      assert.equal(pickFreeAddress('10.78.0.0/24', ['', '10.78.0.10']), '10.78.0.11/24');
    });

    it('accepts any iterable', () => {
      assert.equal(pickFreeAddress('10.78.0.0/24', new Set(['10.78.0.10/24'])), '10.78.0.11/24');
    });

    it('uses only 10..14 on a /28 and then fails clearly', () => {
      const lan = '10.78.0.16/28';
      const used: string[] = [];
      for (let i = 0; i < 5; i++) {
        const a = pickFreeAddress(lan, used);
        used.push(a);
      }
      assert.deepEqual(used, [
        '10.78.0.26/28',
        '10.78.0.27/28',
        '10.78.0.28/28',
        '10.78.0.29/28',
        '10.78.0.30/28',
      ]);
      assertInvalid(() => pickFreeAddress(lan, used), 'no free address left in 10.78.0.16/28');
    });

    it('never goes past host number 200', () => {
      const used = Array.from({ length: 191 }, (_, i) => `10.78.0.${10 + i}`);
      assertInvalid(() => pickFreeAddress('10.78.0.0/24', used), 'no free address left in 10.78.0.0/24');
      assert.equal(pickFreeAddress('10.78.0.0/24', used.slice(0, 190)), '10.78.0.200/24');
    });
  });

  describe('randomMac', () => {
    it('is a locally administered unicast MAC of 6 octets', () => {
      for (let i = 0; i < 20; i++) {
        const mac = randomMac();
        assert.match(mac, /^02(:[0-9a-f]{2}){5}$/);
        const first = Number.parseInt(mac.slice(0, 2), 16);
        assert.equal(first & 0x02, 0x02, 'locally administered bit');
        assert.equal(first & 0x01, 0, 'unicast');
      }
    });

    it('is deterministic for a given buffer', () => {
      const buf = Buffer.from([0x00, 0x0a, 0xff, 0x10, 0x7e]);
      assert.equal(randomMac(buf), '02:00:0a:ff:10:7e');
      assert.equal(randomMac(buf), randomMac(Buffer.from(buf)));
    });

    it('uses only the first 5 bytes of a longer buffer', () => {
      assert.equal(randomMac(Buffer.from([1, 2, 3, 4, 5, 6, 7])), '02:01:02:03:04:05');
    });
  });

  describe('vethName', () => {
    it('is "tern" plus 8 hex digits, at most 15 characters', () => {
      for (const c of ['c1', 'web-2', 'x'.repeat(63)]) {
        const n = vethName(c, new Set());
        assert.match(n, /^tern[0-9a-f]{8}$/);
        assert.ok(n.length <= 15);
      }
    });

    it('is deterministic per container name', () => {
      assert.equal(vethName('web-2', new Set()), vethName('web-2', new Set()));
      assert.notEqual(vethName('web-2', new Set()), vethName('web-3', new Set()));
    });

    it('avoids taken names', () => {
      const first = vethName('c1', new Set());
      const second = vethName('c1', new Set([first]));
      assert.notEqual(second, first);
      assert.match(second, /^tern[0-9a-f]{8}$/);
      const third = vethName('c1', new Set([first, second]));
      assert.ok(third !== first && third !== second);
      // Taking an unrelated name changes nothing.
      assert.equal(vethName('c1', new Set(['tern00000000', 'eth0'])), first);
    });
  });
});
