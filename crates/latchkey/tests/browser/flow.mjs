// Log in and approve consent in real headless Chromium, then print the URL the browser
// was sent back to. Usage: node flow.mjs AUTHORIZE_URL USERNAME PASSWORD SCREENSHOT.png
// Run by crates/latchkey/tests/it/browser.rs.
import { chromium } from 'playwright-core';

const [url, username, password, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(/\/authorize\/resume/), page.click('button[type=submit]')]);
  await page.waitForSelector('button[value=approve]');
  await page.screenshot({ path: screenshot, fullPage: true });
  await Promise.all([page.waitForURL(/\/cb\?/), page.click('button[value=approve]')]);
  console.log(page.url());
} finally {
  await browser.close();
}
