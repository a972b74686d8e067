// Opens an xmppdump HTML report in headless Chromium (Debian's /usr/bin/chromium) with
// every network request refused, and reports as JSON what a reader would see: console
// errors, charts, diagrams, and whether a collapsed transcript opens on click.
// Usage: node report_check.mjs REPORT.html SCREENSHOT.png
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [report, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const result = { consoleErrors: [], requestsOutside: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
  page.on("console", (m) => { if (m.type() === "error") result.consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => result.consoleErrors.push(String(e)));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:")) return route.continue();
    result.requestsOutside.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(report).href, { waitUntil: "load" });
  result.title = await page.title();
  result.charts = await page.locator("figure svg.chart").count();
  result.chartBars = await page.locator("figure svg.chart .bar").count();
  result.sessions = await page.locator("details.session").count();
  result.scripts = await page.locator("script").count();
  const first = page.locator("details.session").first();
  result.openBefore = await first.evaluate((d) => d.open);
  result.transcriptVisibleBefore = await first.locator("pre.transcript").isVisible();
  await first.locator("summary").click();
  result.openAfter = await first.evaluate((d) => d.open);
  result.transcriptVisibleAfter = await first.locator("pre.transcript").isVisible();
  result.transcriptLines = (await first.locator("pre.transcript").innerText()).split("\n").length;
  result.diagramArrows = await first.locator(".diagram svg line.arrow").count();
  const box = await first.locator(".diagram svg").boundingBox();
  result.diagramWidth = box ? Math.round(box.width) : 0;
  await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
