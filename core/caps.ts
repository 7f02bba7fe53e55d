// Capability names a container may be granted beyond the default set
// (`tern run --cap-add`), as kernel/native/shim-confine.c knows them.
import { invalid } from './errors.js';

export const CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/** Upper-cases, strips a CAP_ prefix, drops repeats; refuses a name it does not know. */
export function checkCaps(names: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of names) {
    const n = String(raw).toUpperCase().replace(/^CAP_/, '');
    if (!(CAPABILITIES as readonly string[]).includes(n))
      throw invalid(`unknown capability ${JSON.stringify(raw)}: use one of ${CAPABILITIES.join(', ')}`);
    out.add(n);
  }
  return [...out];
}
