// After an agent restart: take over what an earlier agent left mid-handoff.
// A frozen tree whose CRIU still waits for a verdict is held again; a
// restored, stopped tree that still exists keeps its slot; everything else
// (stale image directories, stray stopped copies) is removed, and containers
// left marked frozen by a hold that is gone run again.
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkMigrationId } from '../../core/names.js';
import type { HandoffContext } from './context.js';
import { SLOT_FILE, type SlotFile } from './slot.js';
import { HOLD_FILE, type HoldFile, type SourceHolds } from './source.js';
import type { TargetSlots } from './target.js';

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function readopt(ctx: HandoffContext, source: SourceHolds, target: TargetSlots): Promise<void> {
  const { host, containers, log } = ctx;
  for (const { entry: id, base } of await ctx.work.all()) {
    const workDir = join(base, id);
    try {
      checkMigrationId(id);
    } catch {
      log.warn({ entry: id }, 'removing a migration directory with an invalid name');
      await rm(workDir, { recursive: true, force: true });
      continue;
    }
    const hold = await readJson<HoldFile>(join(workDir, HOLD_FILE));
    const slot = await readJson<SlotFile>(join(workDir, SLOT_FILE));
    // Past the commit point on this source: the container has moved, and
    // an earlier agent may have died before it removed its record. A
    // post-copy dump still serves pages on its own; the directory goes when
    // it is done.
    if (hold && (await ctx.outcomes.get(id)) === 'committed') {
      if (containers.find(hold.name)?.migrationId === id)
        await containers.remove(hold.name, { keepCgroup: true });
      if (await host.alive(hold.criuPid))
        log.warn({ migration: id }, 'a post-copy dump of an earlier agent still serves pages');
      void (async () => {
        while (await host.alive(hold.criuPid)) await new Promise((r) => setTimeout(r, 1000));
        // A post-copy tree waits stopped for its dump to end (SourceHolds.commit).
        if (hold.treePid) await source.endStoppedTree(hold.treePid, hold.treeStart);
        // Its cgroup too, unless a container of that name lives here again.
        if (!containers.find(hold.name)) await host.cgroups.remove(hold.name);
        await containers.trash.discard(workDir);
      })().catch((e: Error) =>
        log.warn({ migration: id, err: e.message }, 'cleaning up a committed hold failed'),
      );
      continue;
    }
    // Post-copy, resumed: the pages still come through the stream the earlier agent started.
    if (slot?.restored && slot.pagesPid) {
      target.adoptPulling({
        id,
        container: slot.container,
        workDir,
        imagesDir: join(workDir, 'images'),
        restored: slot.restored,
        postcopy: true,
        lazy: ctx.engine.adoptLazyPages(workDir, slot.pagesPid),
      });
      log.warn({ migration: id, container: slot.container.name }, 'following the pages of a post-copy move');
      continue;
    }
    // Post-copy, restored but not resumed: its page stream was the earlier
    // agent's, and what it had recorded does not let this one follow it (a
    // tree run without it would read missing pages as zeros). The tree never
    // runs: before the commit point the move aborts and the source's runs on;
    // past it the container is lost, and said so.
    if (slot?.restored && slot.postcopy) {
      await target.lose(
        { id, container: slot.container, workDir, imagesDir: join(workDir, 'images'), postcopy: true },
        slot.restored,
        'the target agent restarted between the restore and the resume; the tree does not run without its page stream followed',
      );
      continue;
    }
    if (hold && (await host.alive(hold.criuPid))) {
      source.adopt({
        id,
        name: hold.name,
        workDir,
        imagesDir: join(workDir, 'images'),
        decide: async (verdict) => {
          await ctx.engine.decideOrphanHold(workDir, verdict);
          await host.waitGone(hold.criuPid, 60_000);
          const rec = containers.find(hold.name);
          return rec && (await host.alive(rec.pid)) ? 'resumed' : 'killed';
        },
      });
      log.warn({ migration: id, container: hold.name }, 're-adopted a frozen tree held by an earlier agent');
      continue;
    }
    if (
      slot?.restored &&
      (await host.alive(slot.restored.pid)) &&
      slot.restored.startTime === (await host.startTime(slot.restored.pid))
    ) {
      target.adopt({
        id,
        container: slot.container,
        workDir,
        imagesDir: join(workDir, 'images'),
        received: slot.received,
        uncheckedRestore: !slot.received,
        restored: slot.restored,
      });
      containers.reserve(slot.container.name, slot.container.ip, true);
      log.warn({ migration: id, container: slot.container.name }, 're-adopted a restored (stopped) tree');
      continue;
    }
    // A dump whose agent died before the tree was held: its hook may still be
    // waiting to say it is ready, with the tree frozen. It resumes the tree.
    if (
      !hold &&
      existsSync(join(workDir, 'hold', 'ready')) &&
      (await ctx.engine.decideOrphanHold(workDir, 'resume', 1000))
    )
      log.warn({ migration: id }, 'resumed a frozen tree whose dump outlived its agent');
    if (slot) await containers.remove(slot.container.name).catch(() => {});
    log.warn({ migration: id }, 'removing a stale migration directory');
    await rm(workDir, { recursive: true, force: true });
  }
  const active = new Set([...source.ids(), ...target.ids()]);
  for (const rec of await containers.list()) {
    if (rec.migrationId && !active.has(rec.migrationId)) {
      rec.migrationId = undefined;
      if (rec.state === 'frozen' || rec.state === 'restored')
        rec.state = (await host.alive(rec.pid)) ? 'running' : 'exited';
      await containers.save(rec);
    }
  }
}
