// The coordinator's web view in a real headless browser (Debian's chromium,
// driven by puppeteer-core): the page is open while a real migration runs on
// the testbed; the migration appears, moves through its phases and ends on
// done without a reload, and the container shows under its new host. A
// screenshot goes to test/results/webview.png.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import {
  down,
  migrate,
  ownsTestbed,
  ROOT,
  runWorkload,
  tern,
  testbedEnv,
  up,
  workloadRootfs,
} from '../../deploy/testbed/driver.js';
import { requirePrivileges } from '../lib/privileges.js';

const CHROMIUM = '/usr/bin/chromium';
const NAME = 'web-mem';
const SHOT = join(ROOT, 'test', 'results', 'webview.png');

describe('the web view in a browser (privileged)', function () {
  this.timeout(300_000);
  let cleanupRootfs: (() => Promise<void>) | undefined;
  let browser: Browser | undefined;
  const wrapper = join('/tmp', `tern-chromium-${process.pid}.sh`);

  before(async function () {
    requirePrivileges(this);
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: make test installs Debian's chromium`);
    await up(2);
    const r = await workloadRootfs();
    cleanupRootfs = r.cleanup;
    // Enough memory that each phase lasts long enough to be seen.
    await runWorkload(
      'hostA',
      NAME,
      r.dir,
      '/bin/workload heartbeat /tmp/hb & /bin/workload memhog 256 11 random /tmp/mem & wait',
      '/tmp/mem',
    );
    // The coordinator's HTTP listener is on the testbed's underlay, inside its namespace.
    const e = await testbedEnv();
    await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${e.TESTBED_COORD_NETNS} ${CHROMIUM} "$@"\n`);
    await chmod(wrapper, 0o755);
    browser = await puppeteer.launch({
      executablePath: wrapper,
      headless: true,
      // Over a pipe, not a TCP port: the browser's loopback is the namespace's.
      pipe: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await rm(wrapper, { force: true });
    if (ownsTestbed()) await tern('stop', NAME).catch(() => {});
    await down().catch(() => {});
    await cleanupRootfs?.();
  });

  it('shows a migration appear, go through its phases and end on done, live', async () => {
    const e = await testbedEnv();
    const page = await (browser as Browser).newPage();
    await page.setViewport({ width: 1400, height: 380 });
    await page.goto(`http://${e.TESTBED_METRICS_coordinator}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => document.getElementById('state')?.textContent?.startsWith('live'), {
      timeout: 20_000,
    });
    // The container, on its host, before the move.
    await page.waitForSelector(`[data-host="hostA"] [data-container="${NAME}"]`, { timeout: 10_000 });

    const moving = migrate('--to', 'hostB', NAME);
    const seen: string[] = [];
    const until = Date.now() + 60_000;
    for (;;) {
      const phase = await page.evaluate(
        (n) => document.querySelector(`tr[data-container="${n}"]`)?.getAttribute('data-phase') ?? null,
        NAME,
      );
      if (phase && seen[seen.length - 1] !== phase) seen.push(phase);
      if (phase === 'done' || phase === 'aborted' || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const r = await moving;
    assert.equal(r.code, 0, r.stderr);
    // Seen as it happened: at least one phase before the end, then done, in the order of the protocol.
    const order = ['preflight', 'dumping', 'transferring', 'restoring', 'committing', 'committed', 'done'];
    assert.equal(seen[seen.length - 1], 'done', `phases seen: ${seen.join(', ')}`);
    assert.ok(seen.length >= 2, `only ${seen.join(', ')} seen`);
    for (let i = 1; i < seen.length; i++)
      assert.ok(
        order.indexOf(seen[i]) > order.indexOf(seen[i - 1]),
        `phases out of order: ${seen.join(', ')}`,
      );
    // No reload: the container shows under its new host, with the downtime and a full timeline.
    await page.waitForSelector(`[data-host="hostB"] [data-container="${NAME}"]`, { timeout: 10_000 });
    const row = await page.evaluate((n) => {
      const tr = document.querySelector(`tr[data-container="${n}"]`);
      return {
        downtime: tr?.children[5]?.textContent ?? '',
        segments: tr?.querySelectorAll('.timeline span').length ?? 0,
      };
    }, NAME);
    assert.match(row.downtime, /^\d+ ms$/);
    assert.equal(row.segments, 6);
    await mkdir(join(ROOT, 'test', 'results'), { recursive: true });
    await page.screenshot({ path: SHOT as `${string}.png` });
    assert.ok(existsSync(SHOT));
  });
});
