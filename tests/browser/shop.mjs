// Clicks through the shop in Debian's headless Chromium, as a person would, and saves a
// screenshot of every page. Usage: node shop.mjs SHOP_URL ARTIFACT_DIR
// Exits 0 when every step worked; otherwise prints what failed and exits 1.
import { check, collectDialogs, launchChromium, screenshot } from './lib.mjs';
import { mkdirSync } from 'node:fs';

const [shopUrl, artifacts] = process.argv.slice(2);
if (!shopUrl || !artifacts) {
  console.error('usage: node shop.mjs SHOP_URL ARTIFACT_DIR');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const dialogs = [];
  collectDialogs(page, dialogs);
  const shot = (name) => screenshot(page, artifacts, name);

  // Home: a grid of products and the user's segment in the header.
  await page.goto(shopUrl);
  const cards = await page.locator('a.card').count();
  check(cards >= 12, `home page shows ${cards} product cards, expected at least 12`);
  check(await page.locator('.tier').count() === 1, 'the header shows the user tier');
  await shot('1-home');

  // A product page, with recommendations, then into the cart.
  const firstName = (await page.locator('a.card .name').first().innerText()).trim();
  await page.locator('a.card').first().click();
  await page.waitForURL(/\/products\/\d+$/);
  check((await page.locator('h1').innerText()).includes(firstName), `product page is about ${firstName}`);
  await shot('2-product');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.waitForURL(/\/cart$/);
  check((await page.locator('tbody tr').count()) === 1, 'the cart holds one line');
  check((await page.locator('tbody').innerText()).includes(firstName), `the cart lists ${firstName}`);
  await shot('3-cart');

  // Checkout with the approved test card ends on the order page.
  await page.getByRole('button', { name: 'Place order' }).click();
  await page.waitForURL(/\/orders\/\d+$/);
  const order = await page.locator('main').innerText();
  check(/placed|shipped|label/i.test(order), `order page shows its status: ${order.slice(0, 200)}`);
  await shot('4-order');

  // Search text is shown as text, never run as script.
  const hostile = '<script>alert(1)</script>';
  await page.goto(`${shopUrl}/search?q=${encodeURIComponent(hostile)}`);
  check((await page.locator('main').innerText()).includes(hostile), 'the search text is shown verbatim');
  await shot('5-search-escaped');
  check(dialogs.length === 0, `a script ran from page content: ${dialogs.join(', ')}`);

  console.log(JSON.stringify({ ok: true, products_on_home: cards, bought: firstName }));
} catch (error) {
  console.error(`browser check failed: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
