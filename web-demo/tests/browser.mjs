// The web demo in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core):
// the page boots the guest to BOOT-OK, a command typed at its shell prints 42, the pacing
// keeps an idle guest's clock with the wall clock, a snapshot is saved to a file, the page is
// reloaded, the snapshot restored from the file and another command run. The screenshot goes
// to web-demo/test-output/browser.png (a CI artifact). Exits non-zero on any failure.
//
//   node web-demo/tests/browser.mjs      (after web-demo/build.sh)
import { chromium } from "playwright-core";
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "../serve.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const OUT = join(HERE, "..", "test-output");
const BOOT_TIMEOUT = 15 * 60_000;
mkdirSync(OUT, { recursive: true });

const server = await serve(0);
const url = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-quic", // playwright gives it a fresh, empty profile
  ],
});
const step = (what) => console.log(`browser: ${what}`);
let page;
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
  page.on("pageerror", (e) => console.log(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") console.log(`console: ${m.text()}`); });

  const output = () => page.evaluate(() => window.vx86Demo.output);
  const waitOutput = (text, timeout = 120_000) =>
    page.waitForFunction((t) => window.vx86Demo.output.includes(t), text, { timeout, polling: 250 });
  const type = async (line) => {
    await page.click("#terminal");
    await page.keyboard.type(line);
    await page.keyboard.press("Enter");
  };

  await page.goto(url);
  step(`loaded ${url}; waiting for BOOT-OK`);
  const t0 = Date.now();
  await waitOutput("BOOT-OK", BOOT_TIMEOUT);
  // the shell's prompt ("/ # ", then busybox asks the terminal for the cursor position)
  await page.waitForFunction(() => /BOOT-OK[\s\S]*\/ # /.test(window.vx86Demo.output), null, { timeout: 120_000 });
  const status = await page.evaluate(() => window.vx86Demo.status);
  step(`BOOT-OK after ${((Date.now() - t0) / 1000).toFixed(1)} s; status ${JSON.stringify(status)}`);

  await type("echo $((6*7))");
  await waitOutput("\r\n42\r\n");
  step("echo $((6*7)) printed 42");

  // pacing: the idle guest's virtual clock follows the wall clock
  const a = await page.evaluate(() => ({ v: window.vx86Demo.status.virtualNs, t: performance.now() }));
  await page.waitForTimeout(4000);
  const b = await page.evaluate(() => ({ v: window.vx86Demo.status.virtualNs, t: performance.now() }));
  const virt = (b.v - a.v) / 1e6, wall = b.t - a.t;
  step(`idle: virtual time advanced ${virt.toFixed(0)} ms in ${wall.toFixed(0)} ms of wall time`);
  if (virt > wall + 1500) throw new Error(`the idle guest's clock ran ahead of the wall clock (${virt} ms in ${wall} ms)`);

  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#save")]);
  const snap = join(OUT, "restore-test.snap");
  await download.saveAs(snap);
  step(`snapshot saved: ${statSync(snap).size} bytes`);

  await page.reload();
  await page.waitForFunction(() => window.vx86Demo.ready, null, { timeout: 60_000 });
  await page.setInputFiles("#restore", snap);
  await page.waitForFunction(() => window.vx86Demo.messages.some((m) => m.startsWith("restored")), null, { timeout: 60_000 });
  step("restored from the file after a reload");
  await type("echo RESTORED-$((40+2))");
  await waitOutput("RESTORED-42\r\n");
  step("a command after the restore printed RESTORED-42");
  if ((await output()).includes("BOOT-OK")) throw new Error("the console shows a new boot, not the restored machine");
  await page.screenshot({ path: join(OUT, "browser.png") });
  step(`screenshot: ${join(OUT, "browser.png")}`);
  console.log("browser: ok");
} catch (e) {
  if (page) await page.screenshot({ path: join(OUT, "browser-failure.png") }).catch(() => {});
  console.error(`browser: FAILED: ${e.stack || e}`);
  if (page) console.error(`console text (last 2000 characters):\n${(await page.evaluate(() => window.vx86Demo?.output).catch(() => ""))?.slice(-2000)}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
