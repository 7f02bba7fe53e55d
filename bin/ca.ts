// `tern ca ...`: the cluster CA and the certificates it issues (core/pki.ts).
import { parseArgs } from 'node:util';
import { DEFAULT_PKI_DIR, type Identity, initCa, issue, readIdentity } from '../core/pki.js';

export const CA_USAGE = `  ca init [--dir D] [--days N]           make the cluster CA in D (default ${DEFAULT_PKI_DIR}); kept if there
  ca issue --host H | --coordinator N | --operator N | --etcd N [--dir D] [--days N] [--dns NAME]... [--ip ADDR]...
                                          issue (or re-issue, to rotate) a certificate; daemons pick it up within seconds
                                          (--etcd: a member of the coordinators' etcd store; give its --ip)
  ca show FILE.crt                        the role, name and expiry in a certificate`;

export async function caCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const sub = argv.shift();
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      days: { type: 'string' },
      host: { type: 'string' },
      coordinator: { type: 'string' },
      operator: { type: 'string' },
      etcd: { type: 'string' },
      dns: { type: 'string', multiple: true },
      ip: { type: 'string', multiple: true },
    },
  });
  const dir = values.dir ?? process.env.TERN_PKI ?? DEFAULT_PKI_DIR;
  const days = values.days === undefined ? undefined : Number(values.days);
  if (days !== undefined && !(Number.isInteger(days) && days > 0))
    throw new Error(`--days: not a whole number of days: ${values.days}`);
  switch (sub) {
    case 'init': {
      const made = await initCa(dir, { days });
      out(made ? `CA made in ${dir}\n` : `CA already in ${dir}; kept\n`);
      return;
    }
    case 'issue': {
      const given = [
        values.host !== undefined && ({ role: 'agent', name: values.host } as Identity),
        values.coordinator !== undefined && ({ role: 'coordinator', name: values.coordinator } as Identity),
        values.operator !== undefined && ({ role: 'operator', name: values.operator } as Identity),
        values.etcd !== undefined && ({ role: 'etcd', name: values.etcd } as Identity),
      ].filter((x): x is Identity => !!x);
      if (given.length !== 1)
        throw new Error('ca issue: give exactly one of --host, --coordinator, --operator, --etcd');
      const files = await issue(dir, given[0], { days, dns: values.dns, ips: values.ip });
      out(`${given[0].role} ${given[0].name}: ${files.cert}, ${files.key}\n`);
      return;
    }
    case 'show': {
      if (positionals.length !== 1) throw new Error('usage: tern ca show FILE.crt');
      const id = await readIdentity(positionals[0]);
      out(`${id.role} ${id.name}, valid until ${id.notAfter}\n`);
      return;
    }
    default:
      throw new Error(`usage:\n${CA_USAGE}`);
  }
}
