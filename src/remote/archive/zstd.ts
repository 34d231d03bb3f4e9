import { compress, decompress } from '@mongodb-js/zstd';
import { Decompress } from 'fzstd';
import { RemoteError } from '../../errors/index.js';

// Zstandard in both directions without holding a whole archive in memory. Node 20's zlib has no
// zstd, so: the native codec of @mongodb-js/zstd (prebuilt in its npm package, whole buffers
// only) for frames of a bounded size, and fzstd (pure JS, streaming) for frames that are not.
// cald writes a stream of independent frames, one per FRAME_INPUT bytes of tar: any zstd
// decoder reads that as one stream (`tar --zstd -x` does), and cald's reader hands each frame to
// the native codec whole. An archive made by another tool (one frame of unknown size) streams
// through fzstd instead: slower, same bytes.

/** Uncompressed bytes per frame that cald writes. */
export const FRAME_INPUT = 4 * 1024 * 1024;
/** A frame larger than this (declared content size) is streamed, not decoded whole. */
const NATIVE_MAX_CONTENT = 16 * 1024 * 1024;
const ZSTD_MAGIC = 0xfd2fb528;

/**
 * The frame with its content size declared in its header (the codec streams and leaves it out):
 * the reader then knows, before decoding, that the frame is small enough to decode whole.
 * Only the header changes (RFC 8878, 3.1.1.1); blocks and checksum stay as they are.
 */
function withContentSize(frame: Buffer, size: number): Buffer {
  if (frame.readUInt32LE(0) !== ZSTD_MAGIC) throw new Error('zstd codec returned no frame');
  const fhd = frame[4]!;
  const single = (fhd >> 5) & 1;
  if (fhd >> 6 !== 0 || single === 1) return frame;
  const didSize = [0, 1, 2, 4][fhd & 3]!;
  const at = 6 + didSize;
  const fcs = Buffer.alloc(4);
  fcs.writeUInt32LE(size);
  const out = Buffer.concat([frame.subarray(0, at), fcs, frame.subarray(at)]);
  out[4] = fhd | 0x80;
  return out;
}

/**
 * Compresses a stream of buffers into zstd frames, two frames in flight (the native codec runs
 * on the thread pool) while the input keeps its order.
 */
export async function* compressFrames(input: AsyncIterable<Buffer>, level: number): AsyncGenerator<Buffer> {
  const pending: Promise<Buffer>[] = [];
  let chunks: Buffer[] = [];
  let size = 0;
  const flush = () => {
    const whole = Buffer.concat(chunks, size);
    chunks = [];
    size = 0;
    pending.push(compress(whole, level).then((frame) => withContentSize(frame, whole.length)));
  };
  for await (const buf of input) {
    let rest = buf;
    while (size + rest.length >= FRAME_INPUT) {
      const take = FRAME_INPUT - size;
      chunks.push(rest.subarray(0, take));
      size += take;
      rest = rest.subarray(take);
      flush();
      if (pending.length >= 2) yield await pending.shift()!;
    }
    if (rest.length > 0) {
      chunks.push(rest);
      size += rest.length;
    }
  }
  if (size > 0) flush();
  while (pending.length > 0) yield await pending.shift()!;
}

function corrupt(source: string, why: string): RemoteError {
  return new RemoteError('REMOTE_BAD_ARCHIVE', `${source}: not a valid zstd stream: ${why}`, {
    hint: 'the archive is damaged or not made by cald export / tar --zstd',
    data: { remote: source },
  });
}

/**
 * Cuts a zstd stream into whole frames as its bytes arrive, walking frame and block headers
 * (RFC 8878, section 3.1) without joining the pieces until a frame is whole.
 */
class FrameSplitter {
  private chunks: Buffer[] = [];
  private total = 0;
  /** Where the next header to read starts, from the start of the current frame. */
  private at = 0;
  private state: 'frame' | 'blocks' | 'checksum' = 'frame';
  private checksum = false;
  private skippable = false;
  contentSize: number | undefined;

  constructor(private readonly source: string) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  get buffered(): number {
    return this.total;
  }

  /** Every byte held, the splitter emptied: for handing the rest to a streaming decoder. */
  takeAll(): Buffer {
    const all = Buffer.concat(this.chunks, this.total);
    this.chunks = [];
    this.total = 0;
    return all;
  }

  private peek(offset: number, n: number): Buffer | undefined {
    if (offset + n > this.total) return undefined;
    const out = Buffer.alloc(n);
    let base = 0;
    let got = 0;
    for (const c of this.chunks) {
      if (base + c.length > offset + got) {
        const from = offset + got - base;
        const k = c.copy(out, got, from, Math.min(c.length, from + n - got));
        got += k;
        if (got === n) break;
      }
      base += c.length;
    }
    return out;
  }

  /**
   * Reads headers as far as the bytes go. 'header' once the current frame's header is read (its
   * contentSize known), a whole frame when one is complete, undefined when more bytes are needed.
   */
  step(): { frame: Buffer; skippable: boolean } | 'header' | undefined {
    if (this.state === 'frame') {
      const head = this.peek(0, 18) ?? this.peek(0, Math.min(this.total, 18));
      if (head === undefined || head.length < 8) return undefined;
      const magic = head.readUInt32LE(0);
      if ((magic & 0xfffffff0) === 0x184d2a50) {
        this.skippable = true;
        this.contentSize = 0;
        this.at = 8 + head.readUInt32LE(4);
        this.state = 'checksum';
        this.checksum = false;
        return 'header';
      }
      if (magic !== ZSTD_MAGIC) throw corrupt(this.source, `bad frame magic 0x${magic.toString(16)}`);
      const fhd = head[4]!;
      const single = (fhd >> 5) & 1;
      const didSize = [0, 1, 2, 4][fhd & 3]!;
      const fcsSize = [single, 2, 4, 8][fhd >> 6]!;
      const fcsAt = 5 + (single ? 0 : 1) + didSize;
      if (head.length < fcsAt + fcsSize) return undefined;
      this.contentSize =
        fcsSize === 0
          ? undefined
          : fcsSize === 1
            ? head[fcsAt]!
            : fcsSize === 2
              ? head.readUInt16LE(fcsAt) + 256
              : fcsSize === 4
                ? head.readUInt32LE(fcsAt)
                : Number(
                    head.readBigUInt64LE(fcsAt) > BigInt(Number.MAX_SAFE_INTEGER)
                      ? BigInt(Number.MAX_SAFE_INTEGER)
                      : head.readBigUInt64LE(fcsAt),
                  );
      this.skippable = false;
      this.checksum = ((fhd >> 2) & 1) === 1;
      this.at = fcsAt + fcsSize;
      this.state = 'blocks';
      return 'header';
    }
    while (this.state === 'blocks') {
      const h = this.peek(this.at, 3);
      if (h === undefined) return undefined;
      const header = h[0]! | (h[1]! << 8) | (h[2]! << 16);
      const type = (header >> 1) & 3;
      if (type === 3) throw corrupt(this.source, 'reserved block type');
      this.at += 3 + (type === 1 ? 1 : header >>> 3);
      if ((header & 1) === 1) {
        this.state = 'checksum';
        if (this.checksum) this.at += 4;
      }
    }
    if (this.total < this.at) return undefined;
    const all = this.takeAll();
    const frame = all.subarray(0, this.at);
    if (all.length > this.at) this.push(all.subarray(this.at));
    this.state = 'frame';
    return { frame, skippable: this.skippable };
  }
}

/**
 * Decompresses a zstd stream of one or more frames. Whole frames of a bounded declared size go to
 * the native codec; from the first frame that is not, the rest streams through fzstd. Memory
 * stays bounded by a frame, not by the archive.
 */
export async function* decompressFrames(
  input: AsyncIterable<Buffer>,
  source: string,
): AsyncGenerator<Buffer> {
  const split = new FrameSplitter(source);
  let streaming: { d: Decompress; out: Buffer[] } | undefined;
  const push = (s: { d: Decompress }, buf: Buffer, final: boolean) => {
    try {
      s.d.push(buf, final);
    } catch (e) {
      throw corrupt(source, (e as Error).message);
    }
  };
  for await (const chunk of input) {
    if (streaming === undefined) {
      split.push(chunk);
      for (;;) {
        const r = split.step();
        if (r === undefined) break;
        if (r === 'header') {
          if (split.contentSize === undefined || split.contentSize > NATIVE_MAX_CONTENT) {
            const out: Buffer[] = [];
            // Copied: fzstd may hand out a view of a buffer it goes on using.
            const d = new Decompress((c) => {
              if (c.length > 0) out.push(Buffer.from(c));
            });
            streaming = { d, out };
            push(streaming, split.takeAll(), false);
            break;
          }
          continue;
        }
        if (r.skippable) continue;
        let out: Buffer;
        try {
          out = await decompress(r.frame);
        } catch (e) {
          throw corrupt(source, (e as Error).message);
        }
        if (out.length !== split.contentSize) throw corrupt(source, 'a frame is not the size it declares');
        if (out.length > 0) yield out;
      }
    } else push(streaming, chunk, false);
    if (streaming !== undefined) yield* streaming.out.splice(0);
  }
  if (streaming !== undefined) {
    push(streaming, Buffer.alloc(0), true);
    yield* streaming.out.splice(0);
  } else if (split.buffered > 0) {
    throw corrupt(source, 'it ends in the middle of a frame');
  }
}
