// The coordinator's address book: an address is given to one container at a
// time, counting the containers the hosts list and those on the move (which,
// in a post-copy move, no host lists between the commit and the restore).
import assert from 'node:assert/strict';
import { AddressBook, type AddressUser } from '../../coordinator/addresses.js';

const LAN = '10.78.0.0/24';

describe('address book', () => {
  const running: AddressUser = { name: 'web', host: 'hostA', ip: '10.78.0.10/24' };
  const moving: AddressUser = { name: 'db', host: 'hostA -> hostB', ip: '10.78.0.11/24' };

  it('picks an address that neither a listed nor a moving container holds', () => {
    const book = new AddressBook();
    const { ip } = book.take('new', '', LAN, [running, moving]);
    assert.equal(ip, '10.78.0.12/24');
  });

  it("refuses a moving container's address when asked for, naming the move", () => {
    const book = new AddressBook();
    assert.throws(
      () => book.take('new', '10.78.0.11', LAN, [running, moving]),
      /address 10\.78\.0\.11 is used by container db on hostA -> hostB/,
    );
  });

  it('gives an address once until its run is answered, then again once released', () => {
    const book = new AddressBook();
    const first = book.take('one', '', LAN, []);
    assert.equal(book.take('two', '', LAN, []).ip, '10.78.0.11/24');
    assert.throws(() => book.take('three', '10.78.0.10', LAN, []), /is being given to container one/);
    first.release();
    assert.equal(book.take('three', '10.78.0.10', LAN, []).ip, '10.78.0.10/24');
  });
});
