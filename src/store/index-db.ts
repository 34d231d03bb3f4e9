import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ioErrorFrom, isCaldError, StoreError, StoreIntegrityError } from '../errors/index.js';
import { fileKind } from '../util/input-file.js';
import { parseCasName } from './cas-name.js';
import { Digest } from './digest.js';
import type { Root, RootKind } from './roots.js';
import { SCHEMA_SQL, SCHEMA_VERSION } from './schema.js';
import { Sqlite, sqliteErrorName } from './sqlite.js';
import { type ObjectInfo, readAll, type Store } from './store.js';

/** Finds the `cas:` names an object refers to (its DT_NEEDED entries). Injected: the store never reads ELF. */
export type ExtractRefs = (bytes: Buffer, digest: Digest) => readonly string[];

export interface ObjectRow {
  readonly digest: string;
  readonly size: number;
  readonly kind: 'file' | 'executable';
  readonly added: number;
}

export interface Ref {
  readonly name: string;
  readonly digest: Digest;
}

/** What `rebuild` reads besides objects; a FileStore has all of it, a MemoryStore none. */
export interface RebuildSource extends Pick<Store, 'list' | 'read' | 'names' | 'roots'> {
  stat(digest: Digest): Promise<ObjectInfo | undefined>;
}

export interface RebuildProblem {
  readonly what: string;
  readonly message: string;
}

export interface RebuildReport {
  readonly objects: number;
  readonly refs: number;
  readonly names: number;
  readonly roots: number;
  /** Objects that could not be read or whose references could not be extracted, bad names. */
  readonly problems: readonly RebuildProblem[];
}

/** The whole index as plain rows, sorted: what tests compare. */
export interface IndexSnapshot {
  readonly objects: ObjectRow[];
  readonly refs: { from: string; name: string; to: string }[];
  readonly names: { name: string; digest: string }[];
  readonly roots: Root[];
}

export interface OpenIndexOptions {
  /** Create the file if missing (default true); otherwise STORE_INDEX_MISSING. */
  readonly create?: boolean;
  readonly readOnly?: boolean;
  /** Run `PRAGMA quick_check` on open (reads the whole file: for `cald verify`, not every command). */
  readonly check?: boolean;
  /** How long to wait for another process's write lock, in ms (default 10 s). */
  readonly busyTimeoutMs?: number;
}

/** A SQLite URI that opens the database at `path` read-only with no lock and no -shm file. */
function immutableUri(path: string): string {
  return `file:${path.split('/').map(encodeURIComponent).join('/')}?mode=ro&immutable=1`;
}

/**
 * The SQLite index of a store: objects, references between them, names and roots. It is a
 * cache of what the store's files say and can always be rebuilt from them (`rebuild`). WAL mode
 * lets readers run beside one writer; the busy timeout makes concurrent writers wait instead of
 * failing with SQLITE_BUSY.
 */
export class IndexDb {
  private constructor(
    private readonly db: Sqlite,
    readonly path: string,
  ) {}

  /**
   * Opens the index. A file that is not a SQLite database, is damaged, or lacks cald's tables
   * gives StoreIntegrityError INTEGRITY_INDEX_CORRUPT (openLocalStore then rebuilds it).
   */
  static open(path: string, options: OpenIndexOptions = {}): IndexDb {
    if (options.readOnly !== true || path === ':memory:') return IndexDb.openAs(path, path, options);
    try {
      return IndexDb.openAs(path, path, options);
    } catch (e) {
      if (isCaldError(e) && e.code !== 'INTEGRITY_INDEX_CORRUPT' && !e.code.startsWith('IO_')) throw e;
      // SQLite reads a WAL-mode database only with its -shm file, which a reader who cannot write
      // the store's directory (read-only media, another user's store) cannot make: read the file
      // as it is instead. (Were its owner writing it meanwhile, a query could see a torn page and
      // fail; it never returns another store's rows.)
      return IndexDb.openAs(path, immutableUri(path), options);
    }
  }

  private static openAs(path: string, location: string, options: OpenIndexOptions): IndexDb {
    const exists = path === ':memory:' || existsSync(path);
    if (!exists && options.create === false) {
      throw new StoreError('STORE_INDEX_MISSING', `the store index ${path} does not exist`, {
        hint: 'run cald index rebuild',
        data: { path },
      });
    }
    let db: Sqlite | undefined;
    try {
      // A FIFO there would hold a read-only open(2) for ever; a directory is no database either.
      const st = exists && path !== ':memory:' ? statSync(path) : undefined;
      if (st !== undefined && !st.isFile()) throw new Error(`it is ${fileKind(st)}, not a regular file`);
      db = Sqlite.open(location, {
        readOnly: options.readOnly ?? false,
        busyTimeoutMs: Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000)),
      });
      if (options.readOnly !== true) {
        db.exec('PRAGMA journal_mode = WAL');
        // The index is derived data: NORMAL (no fsync per commit in WAL mode) is safe, since a
        // lost tail of the WAL is a stale index, which a rebuild fixes.
        db.exec('PRAGMA synchronous = NORMAL');
      }
      if (options.check === true) {
        const result = db.get<{ quick_check: string }>('PRAGMA quick_check')?.quick_check;
        if (result !== 'ok') throw new Error(`quick_check: ${String(result)}`);
      }
      const index = new IndexDb(db, path);
      index.ensureSchema(options.readOnly ?? false);
      return index;
    } catch (e) {
      db?.close();
      if (isCaldError(e)) throw e;
      // Not damage: a file system that is read-only, full or not ours to write, or a busy
      // database. Saying "damaged" would make LocalStore.open move a healthy index aside.
      const notDamage = environmentError(e, path);
      if (notDamage !== undefined) throw notDamage;
      throw new StoreIntegrityError(
        'INTEGRITY_INDEX_CORRUPT',
        `the store index ${path} is damaged: ${firstLine(e)}`,
        {
          hint: 'run cald index rebuild',
          data: { path },
          cause: e,
        },
      );
    }
  }

  /** An index held in memory (tests). */
  static memory(): IndexDb {
    return IndexDb.open(':memory:');
  }

  close(): void {
    this.db.close();
  }

  private ensureSchema(readOnly: boolean): void {
    const tables = this.db.get<{ n: number }>("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'");
    if (tables?.n === 0 && !readOnly) {
      this.db.transaction(() => {
        this.db.exec(SCHEMA_SQL);
        this.db.run('INSERT INTO meta (key, value) VALUES (?, ?)', 'schema_version', String(SCHEMA_VERSION));
      });
      return;
    }
    const row = this.db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'");
    const version = Number(row?.value);
    if (!Number.isInteger(version)) throw new Error('no schema version in the meta table');
    if (version > SCHEMA_VERSION) {
      throw new StoreError(
        'STORE_INDEX_VERSION',
        `the store index ${this.path} has schema ${version}; this cald understands ${SCHEMA_VERSION}`,
        { hint: 'upgrade cald', data: { path: this.path } },
      );
    }
    if (version < SCHEMA_VERSION) throw new Error(`schema ${version} is older than ${SCHEMA_VERSION}`);
    // The right version with other tables or columns (a hand edit, another program's file): damage.
    const shape = schemaShape(this.db);
    if (shape !== expectedShape()) throw new Error('its tables are not the ones of its schema version');
  }

  /**
   * Whether the index describes the whole store. A freshly created index is 'new' until a
   * rebuild fills it or its owner marks it ready (a store with nothing in it); an index left
   * 'new' by a crash is therefore never mistaken for a complete one.
   */
  get ready(): boolean {
    return this.db.get<{ value: string }>("SELECT value FROM meta WHERE key = 'state'")?.value === 'ready';
  }

  markReady(): void {
    this.db.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('state', 'ready')");
  }

  /** Runs `fn` in one write transaction (all or nothing; one fsync). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn);
  }

  // --- objects and references ----------------------------------------------------------------

  recordObject(info: ObjectInfo): void {
    this.db.run(
      'INSERT INTO objects (digest, size, kind, added) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (digest) DO UPDATE SET size = excluded.size, kind = excluded.kind',
      info.digest.toString(),
      info.size,
      info.executable ? 'executable' : 'file',
      info.added,
    );
  }

  /** Forgets an object, its outgoing references and the names pointing at it. */
  forgetObject(digest: Digest): void {
    const d = digest.toString();
    this.transaction(() => {
      this.db.run('DELETE FROM objects WHERE digest = ?', d);
      this.db.run('DELETE FROM refs WHERE from_digest = ?', d);
      this.db.run('DELETE FROM names WHERE digest = ?', d);
    });
  }

  objectRow(digest: Digest): ObjectRow | undefined {
    const row = this.db.get<ObjectRow>(
      'SELECT digest, size, kind, added FROM objects WHERE digest = ?',
      digest.toString(),
    );
    return row === undefined ? undefined : objectRow(row);
  }

  objectRows(): ObjectRow[] {
    return this.db
      .all<ObjectRow>('SELECT digest, size, kind, added FROM objects ORDER BY digest')
      .map(objectRow);
  }

  /** Sets the references of `from` to exactly `names` (cas: names; anything else throws BadNameError). */
  recordRefs(from: Digest, names: readonly string[]): void {
    const rows = refRows(names);
    this.transaction(() => this.replaceRefs(from.toString(), rows));
  }

  /**
   * recordObject and recordRefs for many objects, all or nothing in one transaction. Each object's
   * references are replaced without a savepoint of its own: one per object made SQLite journal
   * every savepoint to a temp file (~2000 writes for ffmpeg's closure, twice the CPU).
   */
  recordObjects(items: ReadonlyArray<{ info: ObjectInfo; refs: readonly string[] }>): void {
    const rows = items.map(({ info, refs }) => ({ info, refs: refRows(refs) }));
    this.transaction(() => {
      for (const { info, refs } of rows) {
        this.recordObject(info);
        this.replaceRefs(info.digest.toString(), refs);
      }
    });
  }

  private replaceRefs(from: string, rows: ReadonlyArray<{ name: string; to: string }>): void {
    this.db.run('DELETE FROM refs WHERE from_digest = ?', from);
    for (const r of rows) this.insertRef(from, r.name, r.to);
  }

  /** The names an object refers to, with their digests, sorted by name. */
  refsOf(digest: Digest): Ref[] {
    const rows = this.db.all<{ name: string; d: string }>(
      'SELECT name, to_digest AS d FROM refs WHERE from_digest = ? ORDER BY name',
      digest.toString(),
    );
    return rows.map((r) => ({ name: r.name, digest: Digest.parse(r.d) }));
  }

  /** The objects that refer to `digest` (under any name), sorted. */
  referrers(digest: Digest): Digest[] {
    const rows = this.db.all<{ d: string }>(
      'SELECT DISTINCT from_digest AS d FROM refs WHERE to_digest = ? ORDER BY d',
      digest.toString(),
    );
    return rows.map((r) => Digest.parse(r.d));
  }

  // --- names ---------------------------------------------------------------------------------

  recordName(name: string): void {
    const { digest } = parseCasName(name);
    this.insertName(name, digest.toString());
  }

  forgetName(name: string): void {
    this.db.run('DELETE FROM names WHERE name = ?', name);
  }

  namesOf(digest: Digest): string[] {
    const rows = this.db.all<{ name: string }>(
      'SELECT name FROM names WHERE digest = ? ORDER BY name',
      digest.toString(),
    );
    return rows.map((r) => r.name);
  }

  // --- roots ---------------------------------------------------------------------------------

  addRoot(root: Root): void {
    this.db.run(
      'INSERT OR REPLACE INTO roots (id, kind, target, added, note) VALUES (?, ?, ?, ?, ?)',
      root.id,
      root.kind,
      root.target,
      root.added,
      root.note ?? null,
    );
  }

  removeRoot(id: string): boolean {
    return this.db.run('DELETE FROM roots WHERE id = ?', id) > 0;
  }

  listRoots(): Root[] {
    const rows = this.db.all<{
      id: string;
      kind: RootKind;
      target: string;
      added: number;
      note: string | null;
    }>('SELECT id, kind, target, added, note FROM roots ORDER BY id');
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      target: r.target,
      added: r.added,
      note: r.note ?? undefined,
    }));
  }

  // --- whole index ---------------------------------------------------------------------------

  snapshot(): IndexSnapshot {
    return {
      objects: this.objectRows(),
      refs: this.db
        .all<{ from: string; name: string; to: string }>(
          'SELECT from_digest AS "from", name, to_digest AS "to" FROM refs ORDER BY from_digest, name',
        )
        .map((r) => ({ from: r.from, name: r.name, to: r.to })),
      names: this.db
        .all<{ name: string; digest: string }>('SELECT name, digest FROM names ORDER BY name')
        .map((r) => ({ name: r.name, digest: r.digest })),
      roots: this.listRoots(),
    };
  }

  /**
   * Replaces the whole index with what the store's files say: every object (read and verified),
   * the references `extractRefs` finds in it, the name entries and the roots. Objects that cannot
   * be read or parsed are reported, not fatal. A source without roots keeps the current roots.
   * Readers see the old index or the new one, never a mix (one transaction).
   */
  async rebuild(store: RebuildSource, extractRefs: ExtractRefs): Promise<RebuildReport> {
    const problems: RebuildProblem[] = [];
    const objects: ObjectInfo[] = [];
    const refs: { from: string; name: string; to: string }[] = [];
    for await (const digest of store.list()) {
      let info: ObjectInfo | undefined;
      let bytes: Buffer;
      try {
        info = await store.stat(digest);
        if (info === undefined) continue; // deleted meanwhile
        bytes = await readAll(store as Store, digest);
      } catch (e) {
        problems.push({ what: digest.toString(), message: firstLine(e) });
        continue;
      }
      objects.push(info);
      let names: readonly string[];
      try {
        names = extractRefs(bytes, digest);
      } catch (e) {
        problems.push({ what: digest.toString(), message: `references not read: ${firstLine(e)}` });
        names = [];
      }
      for (const name of new Set(names)) {
        try {
          refs.push({ from: digest.toString(), name, to: parseCasName(name).digest.toString() });
        } catch (e) {
          problems.push({ what: digest.toString(), message: firstLine(e) });
        }
      }
    }
    const names: { name: string; digest: string }[] = [];
    for (const name of store.names?.list() ?? []) {
      const d = store.names?.resolve(name);
      if (d !== undefined) names.push({ name, digest: d.toString() });
    }
    const roots = store.roots?.list() ?? this.listRoots();
    this.transaction(() => {
      for (const t of ['objects', 'refs', 'names', 'roots']) this.db.exec(`DELETE FROM ${t}`);
      for (const o of objects) this.recordObject(o);
      for (const r of refs) this.insertRef(r.from, r.name, r.to);
      for (const n of names) this.insertName(n.name, n.digest);
      for (const r of roots) this.addRoot(r);
      this.markReady();
    });
    return { objects: objects.length, refs: refs.length, names: names.length, roots: roots.length, problems };
  }

  private insertRef(from: string, name: string, to: string): void {
    this.db.run('INSERT OR IGNORE INTO refs (from_digest, name, to_digest) VALUES (?, ?, ?)', from, name, to);
  }

  private insertName(name: string, digest: string): void {
    this.db.run('INSERT OR REPLACE INTO names (name, digest) VALUES (?, ?)', name, digest);
  }
}

/** The tables with their columns and the indexes of a database, as one comparable string. */
function schemaShape(db: Sqlite): string {
  return db
    .all<{ type: string; name: string; columns: string | null }>(
      `SELECT m.type AS type, m.name AS name,
         (SELECT group_concat(p.name || ' ' || p.type || ' ' || p."notnull" || ' ' || p.pk, ',')
            FROM pragma_table_info(m.name) AS p) AS columns
       FROM sqlite_schema AS m WHERE m.type IN ('table', 'index') AND m.name NOT LIKE 'sqlite_%'
       ORDER BY m.type, m.name`,
    )
    .map((r) => `${r.type} ${r.name}(${r.columns ?? ''})`)
    .join('; ');
}

let shapeOfSchema: string | undefined;

/** schemaShape of a database made by SCHEMA_SQL (made once per process, in memory). */
function expectedShape(): string {
  if (shapeOfSchema === undefined) {
    const db = Sqlite.open(':memory:', { readOnly: false, busyTimeoutMs: 0 });
    try {
      db.exec(SCHEMA_SQL);
      shapeOfSchema = schemaShape(db);
    } finally {
      db.close();
    }
  }
  return shapeOfSchema;
}

function objectRow(r: ObjectRow): ObjectRow {
  return { digest: r.digest, size: r.size, kind: r.kind, added: r.added };
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n', 1)[0] ?? text;
}

/** An IoError for SQLite failures caused by the environment rather than the file's contents. */
function environmentError(e: unknown, path: string): Error | undefined {
  const code = sqliteErrorName(e);
  if (code.startsWith('SQLITE_FULL')) return ioErrorFrom({ code: 'ENOSPC' }, 'write the store index', path);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreError('STORE_BUSY', `the store index ${path} is locked by another process`, {
      hint: 'retry when it has finished',
      data: { path },
      cause: e,
    });
  }
  if (!/^SQLITE_(READONLY|CANTOPEN|PERM|AUTH|IOERR)/.test(code)) return undefined;
  for (const p of [path, dirname(path)]) {
    try {
      if (existsSync(p)) accessSync(p, constants.R_OK | constants.W_OK);
    } catch (err) {
      return ioErrorFrom(err, 'open the store index', path);
    }
  }
  return ioErrorFrom({ code: 'EIO', message: firstLine(e) }, 'open the store index', path);
}

/** The rows of an object's references (cas: names; anything else throws BadNameError). */
function refRows(names: readonly string[]): Array<{ name: string; to: string }> {
  return names.map((name) => ({ name, to: parseCasName(name).digest.toString() }));
}
