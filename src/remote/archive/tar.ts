import { RemoteError } from '../../errors/index.js';

// The tar container of an archive (POSIX ustar, as `tar` reads and writes it). cald writes only
// regular files with fixed metadata (mode 0444/0555, owner 0, mtime 0), so the same closure gives
// the same bytes. The reader takes what GNU tar and bsdtar write for such files (ustar and GNU
// headers, pax and GNU long names, directory entries) and refuses every other kind of entry: cald
// never extracts by name, but it will not guess either.

const BLOCK = 512;
/** Sizes from 8 GiB up are written in base-256 (GNU), octal below. */
const OCTAL_SIZE_LIMIT = 8 ** 11;
const MAX_META = 64 * 1024;

export interface TarEntry {
  readonly name: string;
  readonly size: number;
  readonly executable: boolean;
}

function writeOctal(h: Buffer, at: number, width: number, value: number): void {
  h.write(`${value.toString(8).padStart(width - 1, '0')}\0`, at, width, 'ascii');
}

/** The header of a regular file, followed by its bytes and padding to 512. */
export function tarHeader(entry: TarEntry): Buffer {
  if (Buffer.byteLength(entry.name) > 100) throw new Error(`tar name over 100 bytes: ${entry.name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(entry.name, 0, 100, 'utf8');
  writeOctal(h, 100, 8, entry.executable ? 0o555 : 0o444);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  if (entry.size < OCTAL_SIZE_LIMIT) writeOctal(h, 124, 12, entry.size);
  else {
    h[124] = 0x80;
    h.writeBigUInt64BE(BigInt(entry.size), 128);
  }
  writeOctal(h, 136, 12, 0);
  h.write('0', 156, 1, 'ascii');
  h.write('ustar\x0000', 257, 8, 'ascii');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** Two zero blocks: the end of the archive. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

function bad(source: string, why: string): RemoteError {
  return new RemoteError('REMOTE_BAD_ARCHIVE', `${source}: not a valid tar archive: ${why}`, {
    hint: 'the archive is damaged or not made by cald export / tar --zstd',
    data: { remote: source },
  });
}

/** Bytes taken from an async stream of buffers, exactly as many as asked. */
class ByteQueue {
  private held: Buffer[] = [];
  private size = 0;
  private done = false;
  constructor(private readonly input: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.size < n && !this.done) {
      const r = await this.input.next();
      if (r.done === true) this.done = true;
      else if (r.value.length > 0) {
        this.held.push(r.value);
        this.size += r.value.length;
      }
    }
    return this.size >= n;
  }

  /** Exactly n bytes, or undefined when the stream ends first. */
  async take(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const all = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.size);
    this.held = all.length > n ? [all.subarray(n)] : [];
    this.size -= n;
    return all.subarray(0, n);
  }

  /** n bytes as they come, in pieces; throws `short` when the stream ends first. */
  async *stream(n: number, short: () => Error): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.size === 0 && !(await this.fill(1))) throw short();
      const head = this.held[0]!;
      const piece = head.length <= left ? head : head.subarray(0, left);
      if (head.length <= left) this.held.shift();
      else this.held[0] = head.subarray(left);
      this.size -= piece.length;
      left -= piece.length;
      yield piece;
    }
  }

  async skip(n: number, short: () => Error): Promise<void> {
    for await (const _ of this.stream(n, short));
  }
}

function field(h: Buffer, at: number, width: number): string {
  const raw = h.subarray(at, at + width);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? width : nul).toString('utf8');
}

function number(h: Buffer, at: number, width: number, source: string): number {
  if ((h[at]! & 0x80) !== 0) {
    let v = 0n;
    for (let i = 1; i < width; i++) v = (v << 8n) | BigInt(h[at + i]!);
    if ((h[at]! & 0x7f) !== 0 || v > BigInt(Number.MAX_SAFE_INTEGER))
      throw bad(source, 'a size out of range');
    return Number(v);
  }
  const text = field(h, at, width).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw bad(source, `a number field is ${JSON.stringify(text)}`);
  return Number.parseInt(text, 8);
}

function checksumOk(h: Buffer, source: string): boolean {
  const want = number(h, 148, 8, source);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

/** The `path` and `size` records of a pax extended header. */
function paxRecords(body: Buffer, source: string): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    const len = Number.parseInt(body.subarray(at, space).toString('ascii'), 10);
    if (space < 0 || !Number.isSafeInteger(len) || len <= 0 || at + len > body.length)
      throw bad(source, 'a malformed pax header');
    const record = body.subarray(space + 1, at + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.path = value;
    else if (key === 'size') {
      if (!/^\d+$/.test(value)) throw bad(source, 'a pax size that is not a number');
      out.size = Number(value);
    }
    at += len;
  }
  return out;
}

export interface TarReadEntry extends TarEntry {
  /** The entry's bytes; must be read to the end before the next entry is asked for. */
  readonly body: AsyncIterable<Buffer>;
}

/**
 * The regular files of a tar stream, in order. Directory entries and global pax headers are
 * passed over; links, devices and anything else are refused.
 */
export async function* readTar(input: AsyncIterable<Buffer>, source: string): AsyncGenerator<TarReadEntry> {
  const q = new ByteQueue(input[Symbol.asyncIterator]());
  const short = () => bad(source, 'it ends in the middle of an entry');
  let longName: string | undefined;
  let pax: { path?: string; size?: number } = {};
  for (;;) {
    const h = await q.take(BLOCK);
    if (h === undefined) throw bad(source, 'it ends without the end-of-archive blocks');
    if (h.every((b) => b === 0)) return;
    if (!checksumOk(h, source)) throw bad(source, 'a header checksum does not match');
    if (!field(h, 257, 6).startsWith('ustar')) throw bad(source, 'a header is not ustar');
    const type = String.fromCharCode(h[156]!);
    const size = pax.size ?? number(h, 124, 12, source);
    const padded = size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (type === 'x' || type === 'L' || type === 'g') {
      if (size > MAX_META) throw bad(source, `a ${type} header of ${size} bytes`);
      const body = await q.take(padded);
      if (body === undefined) throw short();
      if (type === 'x') pax = paxRecords(body.subarray(0, size), source);
      else if (type === 'L') longName = field(body, 0, size);
      continue;
    }
    const prefix = field(h, 345, 155);
    const base = field(h, 0, 100);
    const name = (pax.path ?? longName ?? (prefix === '' ? base : `${prefix}/${base}`)).replace(
      /^(\.\/)+/,
      '',
    );
    pax = {};
    longName = undefined;
    if (type === '5') {
      await q.skip(padded, short);
      continue;
    }
    if (type !== '0' && type !== '\0' && type !== '7') {
      throw bad(source, `${name} is not a regular file (tar type ${JSON.stringify(type)})`);
    }
    const mode = number(h, 100, 8, source);
    let consumed = size === 0;
    const body = (async function* () {
      yield* q.stream(size, short);
      consumed = true;
    })();
    yield { name, size, executable: (mode & 0o111) !== 0, body };
    if (!consumed) throw new Error(`tar entry ${name} was not read to its end`);
    await q.skip(padded - size, short);
  }
}
