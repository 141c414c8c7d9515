// The PostgreSQL connection pool and the two ways stores use it: one parameterised query, or a
// transaction. A connection failure surfaces as StoreUnavailableError so callers answer with a
// temporary error; pg's pool reconnects by itself on the next query.
import pg from 'pg';
import { StoreUnavailableError } from '../types.js';

export type Row = Record<string, unknown>;

export interface Queryable {
  query(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

/** SQLSTATE classes that mean the database is unreachable or going away, not that the query is wrong. */
const UNAVAILABLE_STATES = /^(08|53|57P0|58)/;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.test(code))) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(err.message);
}

function translate(err: unknown): unknown {
  if (err instanceof StoreUnavailableError) return err;
  if (isUnavailable(err)) return new StoreUnavailableError(`PostgreSQL is unavailable: ${err instanceof Error ? err.message : String(err)}`, err);
  return err;
}

export interface DbOptions {
  url: string;
  /** A schema to use instead of public (tests give each run its own). */
  schema?: string;
  max?: number;
}

export class Db implements Queryable {
  readonly pool: pg.Pool;

  constructor(options: DbOptions) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.max ?? 10,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    this.pool.on('error', () => undefined);
  }

  async query(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    try {
      const result = await this.pool.query(sql, params as unknown[]);
      return result.rows as Row[];
    } catch (err) {
      throw translate(err);
    }
  }

  /** Runs `work` in a transaction on one connection; rolls back if it throws. */
  async transaction<T>(work: (tx: Queryable & { client: pg.PoolClient }) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw translate(err);
    }
    const tx = {
      client,
      async query(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
        return (await client.query(sql, params as unknown[])).rows as Row[];
      },
    };
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await work(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw translate(err);
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

// Row readers: values from the database enter as unknown.
export function str(row: Row, column: string): string {
  const v = row[column];
  if (typeof v !== 'string') throw new Error(`column ${column}: expected text, got ${typeof v}`);
  return v;
}

export function optStr(row: Row, column: string): string | undefined {
  const v = row[column];
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'string') throw new Error(`column ${column}: expected text, got ${typeof v}`);
  return v;
}

export function num(row: Row, column: string): number {
  const v = row[column];
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  if (v instanceof Date) return v.getTime();
  throw new Error(`column ${column}: expected a number, got ${typeof v}`);
}

export function bool(row: Row, column: string): boolean {
  const v = row[column];
  if (typeof v !== 'boolean') throw new Error(`column ${column}: expected boolean, got ${typeof v}`);
  return v;
}
