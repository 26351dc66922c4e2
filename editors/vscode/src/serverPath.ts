// Finding the `journey` executable that runs the language server.
//
// Kept free of the `vscode` module so that it can be unit-tested with plain Node
// (`npm test`).

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface ResolveOptions {
  /** The first workspace folder, if any: `${workspaceFolder}` and relative paths use it. */
  workspaceFolder?: string;
  /** The `PATH` to search for a bare command name (defaults to `process.env.PATH`). */
  envPath?: string;
  /** Windows executable extensions (defaults to `process.env.PATHEXT`). */
  pathExt?: string;
  /** The platform (defaults to `process.platform`). */
  platform?: NodeJS.Platform;
  /** The home directory for `~` (defaults to `os.homedir()`). */
  homeDir?: string;
}

export type Resolution =
  | { found: true; command: string }
  | { found: false; tried: string[]; reason: 'empty' | 'not-found' | 'not-executable' };

/**
 * Expands `~` and `${workspaceFolder}` (and `${userHome}`) in a configured path. Relative
 * paths that contain a directory separator are made absolute against the workspace folder.
 * A bare name (`journey`) is returned unchanged, to be looked up on `PATH`.
 */
export function expandServerPath(configured: string, opts: ResolveOptions = {}): string {
  const home = opts.homeDir ?? os.homedir();
  let p = configured.trim();
  if (p === '~') {
    p = home;
  } else if (p.startsWith('~/') || p.startsWith('~\\')) {
    p = path.join(home, p.slice(2));
  }
  p = p.replace(/\$\{userHome\}/g, home);
  if (opts.workspaceFolder !== undefined) {
    p = p.replace(/\$\{workspaceFolder\}/g, opts.workspaceFolder);
  }
  if (isBareName(p)) {
    return p;
  }
  if (!path.isAbsolute(p) && opts.workspaceFolder !== undefined) {
    p = path.resolve(opts.workspaceFolder, p);
  }
  return p;
}

/** A command name without any directory part: looked up on `PATH`. */
export function isBareName(p: string): boolean {
  return p.length > 0 && !p.includes('/') && !p.includes('\\');
}

function isExecutableFile(file: string, platform: NodeJS.Platform): boolean {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) {
      return false;
    }
    if (platform === 'win32') {
      return true;
    }
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves the configured server path to an executable file, the way a shell would: a path
 * with a directory part must name an executable file; a bare name is searched on `PATH`
 * (with the `PATHEXT` extensions on Windows).
 */
export function resolveServerCommand(configured: string, opts: ResolveOptions = {}): Resolution {
  const platform = opts.platform ?? process.platform;
  const expanded = expandServerPath(configured, opts);
  if (expanded.length === 0) {
    return { found: false, tried: [], reason: 'empty' };
  }
  const exts =
    platform === 'win32'
      ? ['', ...(opts.pathExt ?? process.env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').filter((e) => e.length > 0)]
      : [''];

  if (!isBareName(expanded)) {
    const tried: string[] = [];
    for (const ext of exts) {
      const candidate = expanded + ext;
      tried.push(candidate);
      if (isExecutableFile(candidate, platform)) {
        return { found: true, command: candidate };
      }
    }
    const exists = fs.existsSync(expanded);
    return { found: false, tried, reason: exists ? 'not-executable' : 'not-found' };
  }

  const envPath = opts.envPath ?? process.env.PATH ?? '';
  const sep = platform === 'win32' ? ';' : ':';
  const tried: string[] = [];
  for (const dir of envPath.split(sep)) {
    if (dir.length === 0) {
      continue;
    }
    for (const ext of exts) {
      const candidate = path.join(dir, expanded + ext);
      tried.push(candidate);
      if (isExecutableFile(candidate, platform)) {
        return { found: true, command: candidate };
      }
    }
  }
  return { found: false, tried, reason: 'not-found' };
}

/** The message shown when the server cannot be started because the binary is missing. */
export function notFoundMessage(configured: string, resolution: Resolution): string {
  if (resolution.found) {
    return '';
  }
  switch (resolution.reason) {
    case 'empty':
      return 'Journey: the setting "journey.server.path" is empty, so the language server cannot start. Set it to the `journey` executable (or "journey" to look it up on PATH).';
    case 'not-executable':
      return `Journey: "${configured}" (journey.server.path) exists but is not an executable file, so the language server cannot start.`;
    case 'not-found':
      return isBareName(configured.trim())
        ? `Journey: the language server could not start: "${configured.trim()}" was not found on PATH. Install the journey CLI (cargo install --path cli, from the journey repository) or set "journey.server.path" to the executable.`
        : `Journey: the language server could not start: "${configured}" (journey.server.path) does not exist. Build the journey CLI or fix the setting.`;
  }
}
