// The one place that knows which SQLite binding the index uses.
//
// @photostructure/sqlite is Node's own `node:sqlite` API (DatabaseSync) shipped with prebuilt
// binaries inside the npm package: `npm ci` needs no compiler, no Node headers and nothing but
// the npm registry (better-sqlite3 compiled SQLite from source at every install and made node-gyp
// download headers from outside the registries). On Node >= 22.13 the same calls work on
// `node:sqlite` itself. docs/design.md ("The index") says why this binding and not another.
import { DatabaseSync, type DatabaseSyncInstance, type StatementSyncInstance } from '@photostructure/sqlite';

export type SqlValue = string | number | bigint | null | Uint8Array;

export interface SqliteOptions {
  readonly readOnly: boolean;
  /** How long a statement waits for another connection's lock before SQLITE_BUSY. */
  readonly busyTimeoutMs: number;
}

/** Primary result codes (sqlite3.h) by number: errors carry `errcode`, possibly extended. */
const PRIMARY_CODES: Record<number, string> = {
  3: 'SQLITE_PERM',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  8: 'SQLITE_READONLY',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  23: 'SQLITE_AUTH',
  26: 'SQLITE_NOTADB',
};

/** `SQLITE_BUSY`, `SQLITE_FULL`... for an error thrown by the binding; '' for anything else. */
export function sqliteErrorName(e: unknown): string {
  const errcode = (e as { errcode?: unknown })?.errcode;
  if (typeof errcode !== 'number') return '';
  return PRIMARY_CODES[errcode & 0xff] ?? `SQLITE_${errcode & 0xff}`;
}

/**
 * A connection with prepared statements cached by their SQL and nestable transactions
 * (savepoints inside an open transaction).
 */
export class Sqlite {
  private readonly statements = new Map<string, StatementSyncInstance>();
  private depth = 0;
  private closed = false;

  private constructor(private readonly db: DatabaseSyncInstance) {}

  static open(path: string, options: SqliteOptions): Sqlite {
    const db = new DatabaseSync(path, { readOnly: options.readOnly, timeout: options.busyTimeoutMs });
    return new Sqlite(db);
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  /** The first row, or undefined. Rows have a null prototype: copy them before they leave the store. */
  get<T>(sql: string, ...params: SqlValue[]): T | undefined {
    return this.statement(sql).get(...params) as T | undefined;
  }

  /** Every row (null-prototype objects, as `get`). */
  all<T>(sql: string, ...params: SqlValue[]): T[] {
    return this.statement(sql).all(...params) as T[];
  }

  /** Runs a statement that returns no rows; the number of rows it changed. */
  run(sql: string, ...params: SqlValue[]): number {
    return Number(this.statement(sql).run(...params).changes);
  }

  /** Runs `fn` all or nothing: a transaction, or a savepoint when one is already open. */
  transaction<T>(fn: () => T): T {
    const savepoint = `sp${this.depth}`;
    this.db.exec(this.depth === 0 ? 'BEGIN' : `SAVEPOINT ${savepoint}`);
    this.depth++;
    try {
      const result = fn();
      this.depth--;
      this.db.exec(this.depth === 0 ? 'COMMIT' : `RELEASE ${savepoint}`);
      return result;
    } catch (e) {
      this.depth--;
      this.db.exec(this.depth === 0 ? 'ROLLBACK' : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`);
      throw e;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }

  private statement(sql: string): StatementSyncInstance {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }
}
