// The CLI's side of the admin API: find the server of a data directory through admin.json, send
// it one command, and clean up after a server that died without removing its file.
import { readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { ServerError } from '../errors.js';
import { adminFilePath, COMMANDS_PATH, parseAdminFile, pidAlive, parseApiResponse, type AdminFile, type ApiRequest, type ApiResponse } from './api-protocol.js';

/** Longest a command may take through the API. */
const TIMEOUT_MS = 10 * 60_000;
/** Largest answer the CLI reads (a long `user list`). */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

export interface FoundServer {
  readonly file: string;
  readonly endpoint: AdminFile;
}

export type ApiOutcome =
  | { readonly kind: 'answered'; readonly status: number; readonly response: ApiResponse }
  /** Nothing listens at the URL: the server is gone. */
  | { readonly kind: 'refused' };

function errorCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** Removes the file unless a server has rewritten it since it was read. */
export async function removeStale(found: FoundServer): Promise<void> {
  try {
    const current = parseAdminFile(JSON.parse(await readFile(found.file, 'utf8')));
    if (current !== undefined && current.token !== found.endpoint.token) return;
  } catch {
    // Unreadable or already gone: remove whatever is there.
  }
  await rm(found.file, { force: true });
}

/**
 * The server announced in <dataDir>/admin.json, if its process is alive. A file whose process is
 * gone, or that cannot be read as an admin file, is stale: it is removed and `notice` says so.
 */
export async function findServer(dataDir: string, notice: (line: string) => void): Promise<FoundServer | undefined> {
  const file = adminFilePath(dataDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw new ServerError('ADMIN_FILE_UNREADABLE', `cannot read ${file}: ${errorCode(err) ?? String(err)} (run the CLI as the server's user)`);
  }
  let endpoint: AdminFile | undefined;
  try {
    endpoint = parseAdminFile(JSON.parse(text));
  } catch {
    endpoint = undefined;
  }
  if (endpoint === undefined) {
    notice(`ratatosk: removed ${file}: it is not a valid admin file`);
    await rm(file, { force: true });
    return undefined;
  }
  const found = { file, endpoint };
  if (!pidAlive(endpoint.pid)) {
    notice(`ratatosk: removed stale ${file}: server process ${endpoint.pid} is gone`);
    await removeStale(found);
    return undefined;
  }
  return found;
}

/** Sends one command. Refused connections are an outcome; other transport failures are errors. */
export function sendCommand(found: FoundServer, request: ApiRequest): Promise<ApiOutcome> {
  const { endpoint } = found;
  const body = JSON.stringify(request);
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(COMMANDS_PATH, endpoint.url),
      {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${endpoint.token}`,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          Connection: 'close',
        },
        timeout: TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy();
            reject(new ServerError('ADMIN_API_FAILED', `the admin API at ${endpoint.url} answered with more than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => reject(new ServerError('ADMIN_API_FAILED', `the admin API at ${endpoint.url} broke off its answer: ${err.message}`)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let parsed: ApiResponse | undefined;
          try {
            parsed = parseApiResponse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            parsed = undefined;
          }
          if (status === 401) {
            reject(new ServerError('ADMIN_API_REFUSED', `the admin API at ${endpoint.url} refused the token in ${found.file}; is another program listening on that port?`));
          } else if (parsed === undefined) {
            reject(new ServerError('ADMIN_API_FAILED', `the admin API at ${endpoint.url} gave an unreadable answer (HTTP ${status})`));
          } else {
            resolve({ kind: 'answered', status, response: parsed });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new ServerError('ADMIN_API_FAILED', `the admin API at ${endpoint.url} did not answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (err) => {
      if (errorCode(err) === 'ECONNREFUSED') resolve({ kind: 'refused' });
      else if (err instanceof ServerError) reject(err);
      else reject(new ServerError('ADMIN_API_FAILED', `cannot reach the admin API at ${endpoint.url} (from ${found.file}): ${errorCode(err) ?? err.message}`));
    });
    req.end(body);
  });
}
