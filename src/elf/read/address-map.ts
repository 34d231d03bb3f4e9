import { ElfFormatError } from '../../errors/index.js';
import { PT_LOAD, SHF_ALLOC, SHT_NOBITS } from '../format/constants.js';
import type { ProgramHeader } from './program-headers.js';
import type { SectionHeader } from './sections.js';

interface Range {
  vaddr: bigint;
  offset: number;
  filesz: bigint;
}

/**
 * Maps virtual addresses (what dynamic entries hold) to file offsets, through the PT_LOAD
 * segments as the loader sees them, or through allocated sections when a file has no segments.
 * Addresses are exact 64-bit values; offsets inside the file are numbers.
 */
export class AddressMap {
  private readonly ranges: Range[];

  constructor(phdrs: readonly ProgramHeader[], sections: readonly SectionHeader[], fileSize: number) {
    const loads = phdrs.filter((p) => p.type === PT_LOAD);
    // Bytes a segment claims beyond the end of the file are not in the file.
    const range = (vaddr: bigint, offset: number, filesz: number): Range => ({
      vaddr,
      offset,
      filesz: BigInt(Math.max(0, Math.min(filesz, fileSize - offset))),
    });
    this.ranges =
      loads.length > 0
        ? loads.map((p) => range(p.vaddr, p.offset, p.filesz))
        : sections
            .filter((s) => (s.flags & BigInt(SHF_ALLOC)) !== 0n && s.type !== SHT_NOBITS)
            .map((s) => range(s.addr, s.offset, s.size));
  }

  /** The file offset of `size` bytes at `vaddr`, or undefined when they are not all in the file. */
  tryOffset(vaddr: bigint, size = 1): number | undefined {
    for (const r of this.ranges) {
      const into = vaddr - r.vaddr;
      if (into >= 0n && into + BigInt(size) <= r.filesz) return r.offset + Number(into);
    }
    return undefined;
  }

  offset(vaddr: bigint, size: number, what: string): number {
    const off = this.tryOffset(vaddr, size);
    if (off === undefined) {
      throw new ElfFormatError(
        'ELF_BAD_ADDRESS',
        `${what} at address 0x${vaddr.toString(16)} (${size} bytes) is not inside any loaded segment`,
        {
          hint: 'the file is corrupt',
        },
      );
    }
    return off;
  }
}
