// Container addresses on the shared LAN: an address asked for must be free
// across all hosts, one not asked for is picked free; and until the agent has
// the container, no other run may be given the same address.
import { TernError } from '../core/errors.js';
import { pickFreeAddress, validateAddress } from '../core/net.js';

/** A container that holds an address: where it runs, or where it moves. */
export interface AddressUser {
  name: string;
  host: string;
  ip: string;
}

export class AddressBook {
  /** Address → container, while a RunContainer that was given it is under way. */
  private readonly starting = new Map<string, string>();

  /**
   * Reserves `wanted` (or a free address when empty) on `lan` for
   * `container`, given the containers that hold addresses (live ones, and
   * those moving); returns it with its prefix and the release to call once
   * the agent answered.
   */
  take(
    container: string,
    wanted: string,
    lan: string,
    live: AddressUser[],
  ): { ip: string; release: () => void } {
    let ip: string;
    if (wanted) {
      ip = validateAddress(wanted, lan);
      const addr = ip.split('/')[0];
      const starting = this.starting.get(addr);
      if (starting)
        throw new TernError('ALREADY_EXISTS', `address ${addr} is being given to container ${starting}`);
      const user = live.find((c) => c.ip.split('/')[0] === addr);
      if (user)
        throw new TernError(
          'ALREADY_EXISTS',
          `address ${addr} is used by container ${user.name} on ${user.host}`,
        );
    } else {
      ip = pickFreeAddress(lan, [...live.map((c) => c.ip), ...this.starting.keys()]);
    }
    const addr = ip.split('/')[0];
    this.starting.set(addr, container);
    return { ip, release: () => this.starting.delete(addr) };
  }
}
