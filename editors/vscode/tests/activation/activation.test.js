// Activation tests of the bundled extension against a stand-in `vscode` module and a fake
// language server (`npm test`, after `npm run compile`).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const runner = path.join(__dirname, 'run-extension.js');
const fakeServer = path.join(__dirname, 'fake-server.js');

function run(settings, extraEnv = {}) {
  const out = execFileSync(process.execPath, [runner], {
    env: { ...process.env, SETTINGS: JSON.stringify(settings), ...extraEnv },
    encoding: 'utf8',
    timeout: 30000,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

test('registers the commands and starts `journey lsp [extraArgs] --stdio`, restarts it, stops it', () => {
  fs.chmodSync(fakeServer, 0o755);
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'journey-fake-lsp-')), 'log');
  const result = run(
    { 'journey.server.path': fakeServer, 'journey.server.extraArgs': ['--log', 'debug'] },
    { FAKE_SERVER_LOG: log, RESTART: '1' },
  );
  assert.equal(result.timedOut, false);
  assert.deepEqual(result.commands.sort(), ['journey.restartServer', 'journey.showOutput']);
  assert.deepEqual(result.events.filter((e) => e.kind === 'error'), []);
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
  const argvs = lines.filter((l) => l.startsWith('argv ')).map((l) => JSON.parse(l.slice(5)));
  // started twice (activation, then the restart command), each time with the same command line
  assert.deepEqual(argvs, [
    ['lsp', '--log', 'debug', '--stdio'],
    ['lsp', '--log', 'debug', '--stdio'],
  ]);
  const methods = lines.filter((l) => l.startsWith('method ')).map((l) => l.slice(7));
  assert.deepEqual(methods, [
    'initialize', 'initialized', 'shutdown', 'exit',
    'initialize', 'initialized', 'shutdown', 'exit',
  ]);
  assert.ok(result.events.some((e) => e.kind === 'status' && /restarted/.test(e.text)));
});

test('a server path that does not exist gives one clear error and starts nothing', () => {
  const missing = path.join(os.tmpdir(), 'no-such-dir', 'journey');
  const result = run({ 'journey.server.path': missing });
  assert.equal(result.timedOut, false);
  const errors = result.events.filter((e) => e.kind === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0].text, /language server could not start/);
  assert.match(errors[0].text, /journey\.server\.path/);
});

test('a bare name missing from PATH says so', () => {
  const result = run({ 'journey.server.path': 'journey-not-installed-here' }, { PATH: '/nonexistent' });
  const errors = result.events.filter((e) => e.kind === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0].text, /"journey-not-installed-here" was not found on PATH/);
});

test('journey.server.enable = false starts no server and shows no error', () => {
  const result = run({ 'journey.server.enable': false, 'journey.server.path': 'journey-not-installed-here' });
  assert.deepEqual(result.events.filter((e) => e.kind === 'error'), []);
});
