// Pre-copy's image chain: each round of `criu pre-dump --track-mem` keeps
// its images in a directory of its own, linked to the round before by
// CRIU's `parent` link (--prev-images-dir), and the final dump's images link
// to the last round. A restore reads every page through that chain.
import { readlink, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TernError } from '../core/errors.js';

/** The link CRIU makes in an images directory to its parent (criu/image.c). */
export const PARENT_LINK = 'parent';

/**
 * Where round `round` (1-based; 0 is the final dump after `rounds` rounds)
 * keeps its images under a migration's work directory, and its parent (the
 * round before, as CRIU's --prev-images-dir takes it: relative to the
 * images directory itself). The same layout on both hosts, so that the
 * target's chain of `parent` links leads from the final images through
 * every round.
 */
export function roundDirs(round: number, rounds: number): { dir: string; parent?: string } {
  if (round === 0) return { dir: 'images', parent: rounds > 0 ? `../pre/${rounds}` : undefined };
  return { dir: `pre/${round}`, parent: round > 1 ? `../${round - 1}` : undefined };
}

/**
 * The image directories a restore from `imagesDir` reads, following the
 * `parent` links: imagesDir first, then each round back to the first. Each
 * must be a directory holding pages; a link that leads nowhere, or a chain
 * of other than `rounds` rounds, is refused naming the round, before CRIU
 * would fail on it half way through a restore.
 */
export async function imageChain(imagesDir: string, rounds: number): Promise<string[]> {
  const chain = [imagesDir];
  for (let dir = imagesDir; ; ) {
    const link = await readlink(join(dir, PARENT_LINK)).catch(() => undefined);
    if (link === undefined) break;
    if (chain.length > rounds)
      throw new TernError('DATA_LOSS', `pre-copy images: ${dir} links to more than ${rounds} rounds`);
    const next = resolve(dir, link);
    const s = await stat(next).catch(() => undefined);
    if (!s?.isDirectory())
      throw new TernError(
        'DATA_LOSS',
        `pre-copy images: round ${rounds - chain.length + 1} (${next}) is missing`,
      );
    chain.push(next);
    dir = next;
  }
  if (chain.length !== rounds + 1)
    throw new TernError(
      'DATA_LOSS',
      `pre-copy images: ${rounds} rounds sent, but the chain from ${imagesDir} holds ${chain.length - 1}`,
    );
  return chain;
}
