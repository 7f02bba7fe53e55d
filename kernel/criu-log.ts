// Reading CRIU's logs: what to show a user when CRIU fails.

/** Lines CRIU prints on every run here that say nothing about the failure. */
const HARMLESS = [
  /rlimit: Can't setup RLIMIT_NOFILE/,
  // Re-adding the container's own addresses on restore.
  /Address already assigned/,
];

/** The Error lines of a CRIU log, without timestamps and known noise; last `max` kept. */
export function criuErrors(log: string, max = 5): string[] {
  const out: string[] = [];
  for (const raw of log.split('\n')) {
    if (!/Error|error \(/.test(raw)) continue;
    if (HARMLESS.some((re) => re.test(raw))) continue;
    // "(00.012345) Error (criu/files.c:123): text" -> "Error (criu/files.c:123): text"
    const line = raw
      .replace(/^\(\s*[\d.]+\)\s*/, '')
      .replace(/^\d+:\s*/, '')
      .trim();
    if (line && !out.includes(line)) out.push(line);
  }
  return max > 0 ? out.slice(-max) : [];
}

/** A one-line summary of why CRIU failed, for error messages. */
export function criuFailure(action: string, code: number | null, log: string): string {
  const errs = criuErrors(log, 3);
  const status = code === null ? 'was killed' : `exited with status ${code}`;
  return errs.length > 0 ? `criu ${action} ${status}: ${errs.join(' | ')}` : `criu ${action} ${status}`;
}
