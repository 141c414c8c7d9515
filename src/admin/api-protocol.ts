// What the admin HTTP API and the CLI agree on: the discovery file the server writes into its
// data directory, and the JSON of one command call. Everything read from the file or the wire
// enters as unknown and is checked here.
import { join } from 'node:path';
import type { ExitCode, JsonValue } from './command.js';

/** Written by a running server into its data directory (mode 0600), removed when it stops. */
export const ADMIN_FILE = 'admin.json';
export const COMMANDS_PATH = '/v1/commands';
/** Largest request body the API reads. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

export function adminFilePath(dataDir: string): string {
  return join(dataDir, ADMIN_FILE);
}

export interface AdminFile {
  /** http://127.0.0.1:5281, no trailing slash. */
  readonly url: string;
  /** Random per start: `Authorization: Bearer <token>`. */
  readonly token: string;
  readonly pid: number;
  readonly nodeId: string;
}

export interface ApiRequest {
  /** A registry command name: 'user add'. */
  readonly command: string;
  /** Positional arguments in order, as on the command line. */
  readonly args: readonly string[];
  /** By name without dashes; true for a flag. */
  readonly options: Readonly<Record<string, string | true>>;
  /** The first line of standard input, for options such as --password-stdin. */
  readonly stdin?: string;
}

export interface ApiError {
  readonly code: string;
  readonly message: string;
}

export interface ApiResponse {
  readonly exitCode: ExitCode;
  readonly lines: readonly string[];
  readonly data?: JsonValue;
  /** Remarks the command made beside its result (the CLI prints them to stderr). */
  readonly notices: readonly string[];
  /** Why the command failed, when it did. */
  readonly error?: ApiError;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

export function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  if (depth > 64) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isJsonValue(v, depth + 1));
  if (isRecord(value)) return Object.values(value).every((v) => isJsonValue(v, depth + 1));
  return false;
}

/** Whether a process with this id exists (EPERM: it does, but belongs to another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err instanceof Error && 'code' in err && err.code === 'EPERM';
  }
}

export function parseAdminFile(value: unknown): AdminFile | undefined {
  if (!isRecord(value)) return undefined;
  const { url, token, pid, nodeId } = value;
  if (typeof url !== 'string' || !URL.canParse(url) || new URL(url).protocol !== 'http:') return undefined;
  if (typeof token !== 'string' || token.length < 16) return undefined;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (typeof nodeId !== 'string') return undefined;
  return { url, token, pid, nodeId };
}

/** The request, or what is wrong with it. */
export function parseApiRequest(value: unknown): ApiRequest | string {
  if (!isRecord(value)) return 'expected a JSON object {"command", "args", "options", "stdin"}';
  const unknown = Object.keys(value).filter((k) => !['command', 'args', 'options', 'stdin'].includes(k));
  if (unknown.length > 0) return `unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`;
  const { command, args, options, stdin } = value;
  if (typeof command !== 'string' || command.trim() === '') return '"command" must be a command name such as "user add"';
  if (args !== undefined && !isStringArray(args)) return '"args" must be a list of strings';
  const parsedOptions: Record<string, string | true> = {};
  if (options !== undefined) {
    if (!isRecord(options)) return '"options" must be an object of option names to strings (or true for a flag)';
    for (const [name, v] of Object.entries(options)) {
      if (typeof v !== 'string' && v !== true) return `option "${name}" must be a string, or true for a flag`;
      parsedOptions[name] = v;
    }
  }
  if (stdin !== undefined && typeof stdin !== 'string') return '"stdin" must be a string';
  const request: ApiRequest = { command, args: args ?? [], options: parsedOptions };
  return stdin === undefined ? request : { ...request, stdin };
}

const EXIT_CODES: readonly number[] = [0, 1, 2, 3];

function isExitCode(value: unknown): value is ExitCode {
  return typeof value === 'number' && EXIT_CODES.includes(value);
}

export function parseApiResponse(value: unknown): ApiResponse | undefined {
  if (!isRecord(value)) return undefined;
  const { exitCode, lines, data, notices, error } = value;
  if (!isExitCode(exitCode) || !isStringArray(lines)) return undefined;
  if (notices !== undefined && !isStringArray(notices)) return undefined;
  if (data !== undefined && !isJsonValue(data)) return undefined;
  let parsedError: ApiError | undefined;
  if (error !== undefined) {
    if (!isRecord(error) || typeof error.code !== 'string' || typeof error.message !== 'string') return undefined;
    parsedError = { code: error.code, message: error.message };
  }
  return {
    exitCode,
    lines,
    notices: notices ?? [],
    ...(data === undefined ? {} : { data }),
    ...(parsedError === undefined ? {} : { error: parsedError }),
  };
}
