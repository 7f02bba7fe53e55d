// tern's version, as package.json gives it (agents report it; a dry run compares them).
import { readFileSync } from 'node:fs';

function read(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    ).version;
  } catch {
    return 'unknown';
  }
}

export const TERN_VERSION = read();
