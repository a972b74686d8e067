// Parses and renders Mermaid files with the real Mermaid library in headless Chromium
// (Debian's /usr/bin/chromium, no network). Usage: node mermaid_check.mjs FILE...
// Prints one line per file ("ok FILE" or "FAIL FILE: reason"); exit 1 if any fail.
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = 0;
try {
  const page = await browser.newPage();
  await page.route("**/*", (route) => route.abort()); // no network
  await page.setContent("<!doctype html><html><body></body></html>");
  await page.addScriptTag({ path: join(here, "node_modules/mermaid/dist/mermaid.min.js") });
  await page.evaluate(() => window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict" }));
  for (const file of process.argv.slice(2)) {
    const text = readFileSync(file, "utf8");
    const result = await page.evaluate(async (text) => {
      try {
        await window.mermaid.parse(text);
        const { svg } = await window.mermaid.render("d" + Math.random().toString(36).slice(2), text);
        const messages = (svg.match(/class="messageText"/g) || []).length;
        return { ok: true, messages };
      } catch (e) {
        return { ok: false, error: String(e && e.message || e) };
      }
    }, text);
    if (result.ok) {
      console.log(`ok ${file} messages=${result.messages}`);
    } else {
      failed++;
      console.log(`FAIL ${file}: ${result.error.split("\n").join(" ")}`);
    }
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
