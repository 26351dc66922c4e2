// The VS Code side of the journey language: starts `journey lsp` (the language server) over
// stdio and restarts it on demand or when its settings change. Highlighting, snippets and the
// language configuration are declarative (package.json) and work without the server.

import * as vscode from 'vscode';
import {
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  TransportKind,
} from 'vscode-languageclient/node';
import { notFoundMessage, resolveServerCommand } from './serverPath';

const CLIENT_ID = 'journey'; // also the prefix of the `journey.trace.server` setting
const CLIENT_NAME = 'Journey Language Server';

let client: LanguageClient | undefined;
let outputChannel: vscode.OutputChannel | undefined;
let traceChannel: vscode.OutputChannel | undefined;
// Serialises start/stop so that a restart during a start does not leave two servers running.
let pending: Promise<void> = Promise.resolve();

function serialise(task: () => Promise<void>): Promise<void> {
  pending = pending.then(task, task);
  return pending;
}

function log(message: string): void {
  outputChannel?.appendLine(`[client] ${message}`);
}

function workspaceFolderPath(): string | undefined {
  const folders = vscode.workspace.workspaceFolders;
  if (folders === undefined) {
    return undefined;
  }
  const local = folders.find((f) => f.uri.scheme === 'file');
  return local?.uri.fsPath;
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration('journey');
  if (!config.get<boolean>('server.enable', true)) {
    log('journey.server.enable is false: the language server is not started.');
    return;
  }
  const configuredPath = config.get<string>('server.path', 'journey') ?? 'journey';
  const extraArgs = (config.get<unknown[]>('server.extraArgs', []) ?? []).map(String);
  const cwd = workspaceFolderPath();

  const resolution = resolveServerCommand(configuredPath, { workspaceFolder: cwd });
  if (!resolution.found) {
    const message = notFoundMessage(configuredPath, resolution);
    log(message);
    if (resolution.tried.length > 0) {
      log(`looked for: ${resolution.tried.join(', ')}`);
    }
    void showNotFound(message);
    return;
  }

  // vscode-languageclient appends `--stdio` for the stdio transport: the server is started as
  // `journey lsp [extraArgs...] --stdio`.
  const run = {
    command: resolution.command,
    args: ['lsp', ...extraArgs],
    transport: TransportKind.stdio,
    options: cwd !== undefined ? { cwd } : {},
  };
  const serverOptions: ServerOptions = { run, debug: run };

  const watchers = [
    vscode.workspace.createFileSystemWatcher('**/*.journey'),
    vscode.workspace.createFileSystemWatcher('**/journey.toml'),
  ];
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'journey' },
      { scheme: 'untitled', language: 'journey' },
    ],
    synchronize: { fileEvents: watchers },
    outputChannel,
    traceOutputChannel: traceChannel,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
  };

  const newClient = new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
  log(`starting ${resolution.command} ${['lsp', ...extraArgs, '--stdio'].join(' ')}`);
  try {
    await newClient.start();
    client = newClient;
    context.subscriptions.push(...watchers);
  } catch (err) {
    watchers.forEach((w) => w.dispose());
    const detail = err instanceof Error ? err.message : String(err);
    log(`the language server failed to start: ${detail}`);
    void vscode.window
      .showErrorMessage(
        `Journey: the language server (${resolution.command} lsp) failed to start: ${detail}. ` +
          'Check that this build of journey has the `lsp` command.',
        'Show Output',
        'Open Settings',
      )
      .then(onAction);
    try {
      await newClient.dispose();
    } catch {
      // already stopped
    }
  }
}

async function stopClient(): Promise<void> {
  const old = client;
  client = undefined;
  if (old === undefined) {
    return;
  }
  try {
    await old.stop(2000);
  } catch (err) {
    log(`stopping the language server: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    await old.dispose();
  } catch {
    // already disposed
  }
}

function onAction(choice: string | undefined): void {
  if (choice === 'Open Settings') {
    void vscode.commands.executeCommand('workbench.action.openSettings', 'journey.server');
  } else if (choice === 'Show Output') {
    outputChannel?.show(true);
  }
}

async function showNotFound(message: string): Promise<void> {
  const choice = await vscode.window.showErrorMessage(message, 'Open Settings', 'Show Output');
  onAction(choice);
}

export function activate(context: vscode.ExtensionContext): Promise<void> {
  outputChannel = vscode.window.createOutputChannel(CLIENT_NAME);
  traceChannel = vscode.window.createOutputChannel(`${CLIENT_NAME} Trace`);
  context.subscriptions.push(outputChannel, traceChannel);

  context.subscriptions.push(
    vscode.commands.registerCommand('journey.restartServer', () =>
      serialise(async () => {
        log('restarting the language server');
        await stopClient();
        await startClient(context);
        if (client !== undefined) {
          void vscode.window.setStatusBarMessage('Journey: language server restarted', 3000);
        }
      }),
    ),
    vscode.commands.registerCommand('journey.showOutput', () => outputChannel?.show(true)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('journey.server')) {
        void serialise(async () => {
          log('journey.server settings changed: restarting the language server');
          await stopClient();
          await startClient(context);
        });
      }
    }),
  );

  return serialise(() => startClient(context));
}

export function deactivate(): Promise<void> {
  return serialise(stopClient);
}
