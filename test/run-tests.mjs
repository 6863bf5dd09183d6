#!/usr/bin/env node
// Runs the tap suite and ends with one line `N passed, N failed`, counted from the TAP stream
// (every test point at every depth; skips and todos are counted apart and printed above).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tapBin = require.resolve('tap/bin');
const args = process.argv.slice(2);
const child = spawn(process.execPath, [tapBin, '--reporter=tap', ...args], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: process.env,
});
let passed = 0, failed = 0, skipped = 0, buf = '';
const count = (line) => {
  const m = /^\s*(not ok|ok)\b.*?(#\s*(SKIP|TODO)\b(.*))?$/i.exec(line);
  if (!m) return;
  if (m[3]) { skipped++; if (m[3].toUpperCase() === 'SKIP') console.log(`skipped: ${line.trim()}`); return; }
  if (m[1] === 'ok') passed++; else failed++;
};
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  buf += d.toString();
  let i;
  while ((i = buf.indexOf('\n')) >= 0) { count(buf.slice(0, i)); buf = buf.slice(i + 1); }
});
child.on('close', (code) => {
  if (buf) count(buf);
  if (code !== 0 && failed === 0) failed = 1; // tap itself failed (timeout, crash) without a test point
  if (skipped) console.log(`${skipped} skipped (reasons printed above)`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code === 0 ? 0 : 1);
});
