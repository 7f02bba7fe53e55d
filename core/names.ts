// Validators for names that become path components, interface seeds and
// record keys. Everything an agent, a caller or a peer reports passes through
// these where it is received.
import { invalid } from './errors.js';

const NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/i;

/** Container and host names become path components and interface seeds: keep them plain. */
export function validateName(
  kind: 'container' | 'host' | 'operator' | 'coordinator' | 'etcd',
  name: string,
): string {
  if (typeof name !== 'string' || name.length === 0) throw invalid(`${kind} name is empty`);
  if (name.includes('/') || name.includes('..') || name.includes('\0')) {
    throw invalid(`invalid ${kind} name ${JSON.stringify(name)}: must not contain "/" or ".."`);
  }
  if (!NAME_RE.test(name)) {
    throw invalid(
      `invalid ${kind} name ${JSON.stringify(name)}: use 1-63 letters, digits, "_", "." or "-", starting with a letter or digit`,
    );
  }
  return name;
}

const MIGRATION_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Migration ids name directories on every host: letters, digits, "_" and "-" only. */
export function checkMigrationId(id: string): string {
  if (typeof id !== 'string' || !MIGRATION_ID_RE.test(id))
    throw invalid(`invalid migration id ${JSON.stringify(id)}`);
  return id;
}
