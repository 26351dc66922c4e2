// Unit tests of the server path resolution (plain Node, no VS Code): `npm test`.

import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'node:test';
import { expandServerPath, isBareName, notFoundMessage, resolveServerCommand } from '../serverPath';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'journey-vscode-'));
}

function makeExecutable(dir: string, name: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, '#!/bin/sh\nexit 0\n');
  fs.chmodSync(file, 0o755);
  return file;
}

test('bare names are looked up on PATH', () => {
  assert.equal(isBareName('journey'), true);
  assert.equal(isBareName('./journey'), false);
  assert.equal(isBareName('bin\\journey.exe'), false);
  const dir = tempDir();
  const exe = makeExecutable(dir, 'journey');
  const r = resolveServerCommand('journey', { envPath: `/nonexistent:${dir}`, platform: 'linux' });
  assert.deepEqual(r, { found: true, command: exe });
});

test('a missing bare name reports the PATH directories it tried', () => {
  const dir = tempDir();
  const r = resolveServerCommand('journey', { envPath: dir, platform: 'linux' });
  assert.equal(r.found, false);
  if (!r.found) {
    assert.equal(r.reason, 'not-found');
    assert.deepEqual(r.tried, [path.join(dir, 'journey')]);
    assert.match(notFoundMessage('journey', r), /"journey" was not found on PATH/);
    assert.match(notFoundMessage('journey', r), /journey\.server\.path/);
  }
});

test('relative paths resolve against the workspace folder; ~ and ${workspaceFolder} expand', () => {
  const ws = tempDir();
  fs.mkdirSync(path.join(ws, 'target', 'debug'), { recursive: true });
  const exe = makeExecutable(path.join(ws, 'target', 'debug'), 'journey');
  assert.equal(expandServerPath('target/debug/journey', { workspaceFolder: ws }), exe);
  assert.equal(expandServerPath('${workspaceFolder}/target/debug/journey', { workspaceFolder: ws }), exe);
  assert.equal(expandServerPath('~/bin/journey', { homeDir: '/home/u' }), path.join('/home/u', 'bin/journey'));
  assert.deepEqual(resolveServerCommand('./target/debug/journey', { workspaceFolder: ws, platform: 'linux' }), {
    found: true,
    command: exe,
  });
});

test('a file that is not executable, a missing file and an empty setting are told apart', () => {
  const dir = tempDir();
  const plain = path.join(dir, 'journey');
  fs.writeFileSync(plain, 'not a program');
  fs.chmodSync(plain, 0o644);
  const notExec = resolveServerCommand(plain, { platform: 'linux' });
  assert.equal(notExec.found, false);
  if (!notExec.found) {
    assert.equal(notExec.reason, 'not-executable');
  }
  const missing = resolveServerCommand(path.join(dir, 'nope'), { platform: 'linux' });
  assert.equal(missing.found, false);
  if (!missing.found) {
    assert.equal(missing.reason, 'not-found');
    assert.match(notFoundMessage(path.join(dir, 'nope'), missing), /does not exist/);
  }
  const empty = resolveServerCommand('  ', { platform: 'linux' });
  assert.equal(empty.found, false);
  if (!empty.found) {
    assert.equal(empty.reason, 'empty');
  }
});

test('on Windows, PATHEXT extensions are tried', () => {
  const dir = tempDir();
  const exe = path.join(dir, 'journey.EXE');
  fs.writeFileSync(exe, '');
  const r = resolveServerCommand('journey', { envPath: dir, pathExt: '.COM;.EXE', platform: 'win32' });
  assert.deepEqual(r, { found: true, command: exe });
});
