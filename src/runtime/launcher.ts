import { CaldError } from '../errors/index.js';

/**
 * The slots of native/cald-launch.c. Each is a 32-byte header (ASCII marker, NUL-padded) then a
 * fixed-size value area holding a NUL-terminated string. Install fills values by search and
 * replace; sizes must match the C source.
 */
export const SLOT_HEADER_BYTES = 32;
export const LAUNCHER_SLOTS = {
  /** `sha256:<hex>` of the program object. */
  target: 128,
  /** Absolute store path; an inherited CALD_STORE is ignored unless `flags` is `store-env`. */
  store: 4096,
  /** Absolute path of libcald-audit.so. */
  audit: 4096,
  /** The program's PT_INTERP (the host path the kernel would load). */
  interp: 1024,
  /** `sha256:<hex>` from the program's interpreter note; empty: always exec directly. */
  'interp-digest': 128,
  /** Stat signature of the host's PT_INTERP file when install found it to match the note. */
  'interp-sig': 256,
  /** `store-env`: an inherited CALD_STORE chooses the store (install --store-from-env); else empty. */
  flags: 64,
} as const;
export type LauncherSlot = keyof typeof LAUNCHER_SLOTS;
export type LauncherValues = Readonly<Record<LauncherSlot, string>>;

function header(slot: LauncherSlot): Buffer {
  const h = Buffer.alloc(SLOT_HEADER_BYTES);
  h.write(`CALD-LAUNCH-SLOT:${slot}:1`, 'latin1');
  return h;
}

function findSlot(bytes: Buffer, slot: LauncherSlot): number {
  const h = header(slot);
  const at = bytes.indexOf(h);
  if (
    at < 0 ||
    bytes.indexOf(h, at + 1) >= 0 ||
    at + SLOT_HEADER_BYTES + LAUNCHER_SLOTS[slot] > bytes.length
  ) {
    throw new CaldError(
      'RUN_LAUNCHER_FORMAT',
      `the launcher has ${at < 0 ? 'no' : 'more than one'} ${slot} slot`,
      {
        hint: 'rebuild it: node scripts/build-native.mjs',
      },
    );
  }
  return at + SLOT_HEADER_BYTES;
}

/** A copy of the launcher template with every slot filled. */
export function fillLauncher(template: Buffer, values: LauncherValues): Buffer {
  const out = Buffer.from(template);
  for (const slot of Object.keys(LAUNCHER_SLOTS) as LauncherSlot[]) {
    const value = Buffer.from(values[slot], 'utf8');
    const size = LAUNCHER_SLOTS[slot];
    if (value.length >= size || value.includes(0)) {
      throw new CaldError(
        'RUN_LAUNCHER_VALUE',
        `the launcher's ${slot} value is too long (${value.length} bytes, at most ${size - 1})`,
        {
          data: { slot, value: values[slot] },
        },
      );
    }
    const at = findSlot(out, slot);
    out.fill(0, at, at + size);
    value.copy(out, at);
  }
  return out;
}

/** The values of an installed launcher (empty strings in the template). */
export function readLauncher(bytes: Buffer): LauncherValues {
  const read = (slot: LauncherSlot) => {
    const at = findSlot(bytes, slot);
    const end = bytes.indexOf(0, at);
    return bytes.toString(
      'utf8',
      at,
      end < 0 || end > at + LAUNCHER_SLOTS[slot] ? at + LAUNCHER_SLOTS[slot] : end,
    );
  };
  return {
    target: read('target'),
    store: read('store'),
    audit: read('audit'),
    interp: read('interp'),
    'interp-digest': read('interp-digest'),
    'interp-sig': read('interp-sig'),
    flags: read('flags'),
  };
}

/**
 * The `#!cas:` script handler (native/cald-binfmt) ready to register: it reads each script's `#!`
 * line itself, so only the audit library it sets for the interpreter is filled in.
 */
export function fillScriptHandler(template: Buffer, audit: string): Buffer {
  return fillLauncher(template, {
    target: '',
    store: '',
    audit,
    interp: '',
    'interp-digest': '',
    'interp-sig': '',
    flags: '',
  });
}
