/**
 * ELF strings are byte strings. Inside the ELF layer they are JS strings with one character per
 * byte ('latin1'), so any byte sequence survives a read-edit-write round trip unchanged.
 * These two functions convert at the boundary to and from ordinary (UTF-8) text.
 */
export function fromText(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

export function toText(bytes: string): string {
  return Buffer.from(bytes, 'latin1').toString('utf8');
}
