// The local admin HTTP API: the same command registry as the CLI, run inside the server so
// commands can see live sessions. It listens on a loopback address only and wants the bearer
// token the server writes, with its URL, to <dataDir>/admin.json (mode 0600) at each start.
//
//   POST /v1/commands   {"command": "user add", "args": ["alice"], "options": {"password": "pw"}}
//   200 {"exitCode": 0, "lines": ["created alice@example.org"], "data": {...}, "notices": []}
//
// 400 for a malformed body, an unknown command or a malformed call (exitCode 2), 401 without
// the token, 413 past 1 MiB. A command that fails still answers 200, with exitCode 1 and an error.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { isLoopbackAddress } from '../config/schema.js';
import { ServerError } from '../errors.js';
import type { Logger } from '../observability/log.js';
import { StoreUnavailableError } from '../storage/types.js';
import { adminFilePath, COMMANDS_PATH, MAX_REQUEST_BYTES, parseAdminFile, pidAlive, parseApiRequest, type AdminFile, type ApiRequest, type ApiResponse } from './api-protocol.js';
import { commands, runCommand, UsageError, type Command, type CommandInput } from './commands.js';
import { createLiveServer, type LiveServerParts } from './live.js';

export interface AdminApiOptions extends LiveServerParts {
  readonly log: Logger;
  /** Every command the API runs: the core's and the modules' (commandRegistry); default the core's. */
  readonly commands?: ReadonlyMap<string, Command>;
}

export interface AdminApi {
  /** The bound port; -1 when the API is disabled (admin.port = -1). */
  readonly port: number;
  /** Where the discovery file was written; undefined when disabled. */
  readonly file: string | undefined;
  close(): Promise<void>;
}

class HttpFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

function failure(code: string, message: string, exitCode: 1 | 2 = 1): ApiResponse {
  return { exitCode, lines: [], notices: [], error: { code, message } };
}

/** Reads the body up to the cap; a larger one is an HttpFailure(413). */
async function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > MAX_REQUEST_BYTES) throw new HttpFailure(413, 'TOO_LARGE', `the request body is larger than ${MAX_REQUEST_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_REQUEST_BYTES) throw new HttpFailure(413, 'TOO_LARGE', `the request body is larger than ${MAX_REQUEST_BYTES} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Maps positional arguments onto the spec's names, as the CLI does. */
function inputFor(command: Command, request: ApiRequest): CommandInput {
  const args: Record<string, string> = {};
  for (const [i, value] of request.args.entries()) {
    const spec = command.args[i];
    if (spec === undefined) throw new UsageError(`unexpected argument "${value}" for "${command.name}"`, command);
    args[spec.name] = value;
  }
  return { args, options: request.options };
}

function firstLine(text: string): string {
  const nl = text.indexOf('\n');
  const line = nl === -1 ? text : text.slice(0, nl);
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

function urlFor(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function readAdminFile(file: string): Promise<AdminFile | undefined> {
  try {
    return parseAdminFile(JSON.parse(await readFile(file, 'utf8')));
  } catch {
    return undefined;
  }
}

export async function startAdminApi(options: AdminApiOptions): Promise<AdminApi> {
  const { config, log: parentLog } = options;
  const log = parentLog.child({ component: 'admin-api' });
  if (config.admin.port < 0) {
    log.info('admin API disabled (admin.port = -1): the CLI works on the store directly');
    return { port: -1, file: undefined, close: async () => undefined };
  }
  // The schema allows only loopback addresses; checked again so no caller can bind elsewhere.
  if (!isLoopbackAddress(config.admin.host)) {
    throw new ServerError('CONFIG_INVALID', `admin.host: expected a loopback address (127.0.0.0/8 or ::1), got ${JSON.stringify(config.admin.host)}`);
  }

  const token = randomBytes(32).toString('base64url');
  const expected = createHash('sha256').update(`Bearer ${token}`).digest();
  const authorised = (header: string | undefined): boolean =>
    header !== undefined && timingSafeEqual(createHash('sha256').update(header).digest(), expected);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Loopback binding already keeps others out; a non-loopback peer here means a proxy or a bug.
    if (!isLoopbackAddress(req.socket.remoteAddress ?? '')) throw new HttpFailure(403, 'FORBIDDEN', 'the admin API answers only loopback clients');
    if (!authorised(req.headers.authorization)) throw new HttpFailure(401, 'UNAUTHORIZED', `missing or wrong bearer token (the server writes it to ${adminFilePath(config.dataDir)})`);
    const path = (req.url ?? '/').split('?')[0];
    if (path !== COMMANDS_PATH) throw new HttpFailure(404, 'NOT_FOUND', `no such endpoint; POST ${COMMANDS_PATH}`);
    if (req.method !== 'POST') throw new HttpFailure(405, 'METHOD_NOT_ALLOWED', `use POST ${COMMANDS_PATH}`);

    const body = await readBody(req);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (err) {
      throw new HttpFailure(400, 'BAD_REQUEST', `malformed JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    const request = parseApiRequest(json);
    if (typeof request === 'string') throw new HttpFailure(400, 'BAD_REQUEST', request);
    const command = (options.commands ?? commands).get(request.command);
    if (command === undefined) throw new HttpFailure(400, 'UNKNOWN_COMMAND', `unknown command "${request.command}"`);
    if (command.runs === 'local' || command.runs === 'config') {
      throw new HttpFailure(400, 'CLI_ONLY', `"${command.name}" runs in the ratatosk CLI process, not through the admin API`);
    }

    const notices: string[] = [];
    const stdin = request.stdin;
    try {
      const result = await runCommand(
        command,
        {
          config,
          stores: options.stores,
          live,
          notice: (line) => void notices.push(line),
          ...(stdin === undefined ? {} : { readSecret: async () => firstLine(stdin) }),
        },
        inputFor(command, request),
      );
      log.info({ command: command.name, exitCode: result.exitCode }, 'admin command');
      const response: ApiResponse = { exitCode: result.exitCode, lines: result.lines, notices, ...(result.data === undefined ? {} : { data: result.data }) };
      sendJson(res, 200, response);
    } catch (err) {
      if (err instanceof UsageError) {
        sendJson(res, 400, { ...failure(err.code, err.message, 2), notices });
        return;
      }
      if (err instanceof ServerError || err instanceof StoreUnavailableError) {
        const code = err instanceof ServerError ? err.code : 'STORE_UNAVAILABLE';
        log.info({ command: command.name, code }, 'admin command failed');
        sendJson(res, 200, { ...failure(code, err.message), notices });
        return;
      }
      throw err;
    }
  };

  const server = http.createServer({ requestTimeout: 300_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpFailure) {
        const headers: Record<string, string> = {};
        if (err.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="ratatosk-admin"';
        if (err.status === 405) headers.Allow = 'POST';
        // After an oversized body the rest of it is not worth reading.
        if (err.status === 413) headers.Connection = 'close';
        if (!res.headersSent) sendJson(res, err.status, failure(err.code, err.message, err.status === 400 ? 2 : 1), headers);
        if (err.status === 413) res.on('finish', () => req.destroy());
        return;
      }
      log.error({ err }, 'admin command crashed');
      if (!res.headersSent) sendJson(res, 500, failure('INTERNAL', `internal error: ${err instanceof Error ? err.message : String(err)} (see the server log)`));
      else res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: Error & { code?: string }) => {
      reject(new ServerError('LISTEN_FAILED', `cannot listen for the admin API on ${urlFor(config.admin.host, config.admin.port)} (admin.host, admin.port / RATATOSK_ADMIN_PORT): ${err.code ?? err.message}`));
    });
    server.listen({ host: config.admin.host, port: config.admin.port }, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.admin.port;
  // Requests arrive only after listen, so the handler never sees this before it is set.
  const live = createLiveServer({ ...options, ports: { ...options.ports, admin: port } });
  const url = urlFor(config.admin.host, port);

  // The discovery file: written whole under a temporary name, then renamed into place.
  const file = adminFilePath(config.dataDir);
  const previous = await readAdminFile(file);
  if (previous !== undefined && previous.pid !== process.pid && pidAlive(previous.pid)) {
    log.warn({ file, pid: previous.pid }, 'another running server wrote the admin file for this data directory; replacing it');
  }
  const content: AdminFile = { url, token, pid: process.pid, nodeId: config.nodeId };
  try {
    await mkdir(config.dataDir, { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
    await rename(temp, file);
  } catch (err) {
    server.close();
    throw new ServerError('ADMIN_FILE_FAILED', `cannot write ${file} (data_dir / RATATOSK_DATA_DIR): ${err instanceof Error ? err.message : String(err)}`);
  }
  log.info({ url, file }, 'admin API listening');

  let closed = false;
  return {
    port,
    file,
    async close() {
      if (closed) return;
      closed = true;
      // Only our own file: a newer server on the same data directory may have replaced it.
      const current = await readAdminFile(file);
      if (current?.token === token) await rm(file, { force: true });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
