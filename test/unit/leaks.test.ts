import assert from 'node:assert/strict';
import { fdMount, mountIds, notAFile, unixPeers } from '../../kernel/leaks.js';

describe('leaks: reading /proc', () => {
  it('takes the mount ids a process sees from its mountinfo', () => {
    const text = [
      '144 120 254:0 /var/lib/tern/c/rootfs / rw,relatime - ext4 /dev/vda rw',
      '97 144 0:44 / /proc rw,nosuid,nodev,noexec - proc proc rw',
      '130 144 0:46 / /dev/shm rw - tmpfs shm rw,size=65536k',
      '',
    ].join('\n');
    assert.deepEqual([...mountIds(text)].sort(), [130, 144, 97]);
  });

  it('reads the mount of an open file from its fdinfo', () => {
    assert.equal(fdMount('pos:\t0\nflags:\t0100000\nmnt_id:\t25\nino:\t1234\n'), 25);
    assert.equal(fdMount('pos:\t0\nflags:\t02\n'), undefined);
  });

  it('leaves sockets, pipes, anonymous inodes, namespaces and memfds to CRIU', () => {
    for (const l of [
      'socket:[1234]',
      'pipe:[99]',
      'anon_inode:[eventfd]',
      'anon_inode:[io_uring]',
      'net:[4026532000]',
      '/memfd:shared (deleted)',
    ])
      assert.equal(notAFile(l), true, l);
    for (const l of ['/etc/hostname', '/dev/null', '/tmp/x (deleted)']) assert.equal(notAFile(l), false, l);
  });

  it('reads unix sockets and their peers from ss', () => {
    const ss = [
      'u_str ESTAB 0      0      * 1074 * 1073',
      'u_str LISTEN 0     128    /run/x.sock 2000 * 0',
      'u_dgr UNCONN 0      0      * 3000 * 0',
      'nl    UNCONN 0      0      rtnl:1 * ',
      '',
    ].join('\n');
    assert.deepEqual(
      [...unixPeers(ss)],
      [
        [1074, 1073],
        [2000, 0],
        [3000, 0],
      ],
    );
  });
});
