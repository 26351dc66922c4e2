// Loads the bundled extension (dist/extension.js) with a stand-in for the `vscode` module,
// activates it, optionally runs `journey.restartServer`, deactivates it, and prints what the
// user would have seen (error messages, the output channel) as JSON on stdout.
//
// VS Code itself cannot run here; the stand-in implements the few calls the extension makes
// and answers every other property with an inert object, which is enough for
// vscode-languageclient to start and stop a server over stdio.
//
// Usage: SETTINGS='{"journey.server.path": "..."}' [RESTART=1] node run-extension.js
'use strict';
const Module = require('module');
const path = require('path');

const events = [];

function inert(name) {
  return new Proxy(function () {}, {
    get(_target, prop) {
      if (prop === 'then') return undefined; // not a promise
      if (prop === Symbol.iterator) return function* () {};
      if (prop === Symbol.toPrimitive) return () => name;
      if (prop === 'dispose') return () => {};
      return inert(`${name}.${String(prop)}`);
    },
    apply() {
      return inert(`${name}()`);
    },
    construct() {
      return inert(`new ${name}`);
    },
  });
}

function withFallback(obj, name) {
  return new Proxy(obj, {
    get(target, prop) {
      if (prop in target) return target[prop];
      if (prop === 'then') return undefined;
      return inert(`${name}.${String(prop)}`);
    },
  });
}

class EventEmitter {
  constructor() {
    this.listeners = [];
    this.event = (listener) => {
      this.listeners.push(listener);
      return { dispose() {} };
    };
  }
  fire(e) {
    this.listeners.forEach((l) => l(e));
  }
  dispose() {}
}

class Disposable {
  constructor(onDispose) {
    this.onDispose = onDispose;
  }
  dispose() {
    if (this.onDispose) this.onDispose();
  }
  static from(...items) {
    return new Disposable(() => items.forEach((d) => d.dispose()));
  }
}

const settings = JSON.parse(process.env.SETTINGS || '{}');
const commands = {};
const fileUri = (p) => ({ scheme: 'file', fsPath: p, path: p, toString: () => `file://${p}` });

const vscode = withFallback(
  {
    version: '1.82.0',
    env: withFallback({ appName: 'Visual Studio Code (stand-in)', language: 'en', machineId: 'test' }, 'env'),
    EventEmitter,
    Disposable,
    Uri: withFallback({ file: fileUri, parse: (s) => fileUri(s.replace(/^file:\/\//, '')) }, 'Uri'),
    workspace: withFallback(
      {
        workspaceFolders: undefined,
        textDocuments: [],
        getConfiguration: (section) => ({
          get: (key, dflt) => {
            const full = section ? `${section}.${key}` : key;
            return full in settings ? settings[full] : dflt;
          },
        }),
        onDidChangeConfiguration: () => ({ dispose() {} }),
        createFileSystemWatcher: () => withFallback({ dispose() {} }, 'FileSystemWatcher'),
      },
      'workspace',
    ),
    window: withFallback(
      {
        createOutputChannel: (name) =>
          withFallback(
            {
              name,
              append: (s) => events.push({ kind: 'output', channel: name, text: s }),
              appendLine: (s) => events.push({ kind: 'output', channel: name, text: s }),
              show() {},
              clear() {},
              dispose() {},
            },
            'OutputChannel',
          ),
        showErrorMessage: (text) => {
          events.push({ kind: 'error', text });
          return Promise.resolve(undefined);
        },
        showWarningMessage: (text) => {
          events.push({ kind: 'warning', text });
          return Promise.resolve(undefined);
        },
        showInformationMessage: (text) => {
          events.push({ kind: 'info', text });
          return Promise.resolve(undefined);
        },
        setStatusBarMessage: (text) => {
          events.push({ kind: 'status', text });
          return { dispose() {} };
        },
      },
      'window',
    ),
    commands: withFallback(
      {
        registerCommand: (id, fn) => {
          commands[id] = fn;
          return { dispose() {} };
        },
        executeCommand: () => Promise.resolve(undefined),
      },
      'commands',
    ),
  },
  'vscode',
);

const load = Module._load;
Module._load = function (request, ...rest) {
  if (request === 'vscode') return vscode;
  return load.call(this, request, ...rest);
};

const extension = require(path.resolve(__dirname, '..', '..', 'dist', 'extension.js'));
const context = { subscriptions: [], extensionPath: path.resolve(__dirname, '..', '..') };

(async () => {
  const timer = setTimeout(() => {
    console.log(JSON.stringify({ timedOut: true, commands: Object.keys(commands), events }));
    process.exit(2);
  }, 20000);
  await extension.activate(context);
  if (process.env.RESTART) {
    await commands['journey.restartServer']();
  }
  await extension.deactivate();
  clearTimeout(timer);
  console.log(JSON.stringify({ timedOut: false, commands: Object.keys(commands), events }));
  process.exit(0);
})().catch((err) => {
  console.log(JSON.stringify({ crashed: String(err && err.stack), events }));
  process.exit(1);
});
