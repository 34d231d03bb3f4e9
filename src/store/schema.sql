-- The store index (docs/store-layout.md). Derived data only: every row can be rebuilt from the
-- store's files (objects, names/, roots/). Keep in sync with schema.ts
-- (test/store/index-db.test.ts checks they match byte for byte).
CREATE TABLE meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per stored object. kind: 'file' (mode 0444) or 'executable' (0555).
-- added: ms since the epoch (the object file's mtime, so a rebuild gives the same value).
CREATE TABLE objects (
  digest TEXT PRIMARY KEY NOT NULL,
  size   INTEGER NOT NULL,
  kind   TEXT NOT NULL CHECK (kind IN ('file', 'executable')),
  added  INTEGER NOT NULL
) WITHOUT ROWID;

-- from_digest refers to to_digest through the cas: name 'name' (one of its DT_NEEDED entries).
-- to_digest need not be stored (a missing dependency is still a reference).
CREATE TABLE refs (
  from_digest TEXT NOT NULL,
  name        TEXT NOT NULL,
  to_digest   TEXT NOT NULL,
  PRIMARY KEY (from_digest, name)
) WITHOUT ROWID;
CREATE INDEX refs_to ON refs (to_digest);

-- Entries of <store>/names/.
CREATE TABLE names (
  name   TEXT PRIMARY KEY NOT NULL,
  digest TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX names_digest ON names (digest);

-- Mirrors <store>/roots/<id> (the files are the truth, so a rebuild keeps every root).
CREATE TABLE roots (
  id     TEXT PRIMARY KEY NOT NULL,
  kind   TEXT NOT NULL CHECK (kind IN ('object', 'name', 'indirect')),
  target TEXT NOT NULL,
  added  INTEGER NOT NULL,
  note   TEXT
) WITHOUT ROWID;
