/**
 * Record layouts: the byte offset of every field, per class, as in <elf.h>.
 * Readers and writers use these tables so no offset is written twice.
 */

export interface EhdrLayout {
  size: number;
  e_type: number;
  e_machine: number;
  e_version: number;
  e_entry: number;
  e_phoff: number;
  e_shoff: number;
  e_flags: number;
  e_ehsize: number;
  e_phentsize: number;
  e_phnum: number;
  e_shentsize: number;
  e_shnum: number;
  e_shstrndx: number;
}

export interface PhdrLayout {
  size: number;
  p_type: number;
  p_flags: number;
  p_offset: number;
  p_vaddr: number;
  p_paddr: number;
  p_filesz: number;
  p_memsz: number;
  p_align: number;
}

export interface ShdrLayout {
  size: number;
  sh_name: number;
  sh_type: number;
  sh_flags: number;
  sh_addr: number;
  sh_offset: number;
  sh_size: number;
  sh_link: number;
  sh_info: number;
  sh_addralign: number;
  sh_entsize: number;
}

export interface DynLayout {
  size: number;
  d_tag: number;
  d_val: number;
}

export interface SymLayout {
  size: number;
  st_name: number;
  st_value: number;
  st_size: number;
  st_info: number;
  st_other: number;
  st_shndx: number;
}

export interface Layouts {
  ehdr: EhdrLayout;
  phdr: PhdrLayout;
  shdr: ShdrLayout;
  dyn: DynLayout;
  sym: SymLayout;
}

const ELF32: Layouts = {
  ehdr: {
    size: 52,
    e_type: 16,
    e_machine: 18,
    e_version: 20,
    e_entry: 24,
    e_phoff: 28,
    e_shoff: 32,
    e_flags: 36,
    e_ehsize: 40,
    e_phentsize: 42,
    e_phnum: 44,
    e_shentsize: 46,
    e_shnum: 48,
    e_shstrndx: 50,
  },
  phdr: {
    size: 32,
    p_type: 0,
    p_offset: 4,
    p_vaddr: 8,
    p_paddr: 12,
    p_filesz: 16,
    p_memsz: 20,
    p_flags: 24,
    p_align: 28,
  },
  shdr: {
    size: 40,
    sh_name: 0,
    sh_type: 4,
    sh_flags: 8,
    sh_addr: 12,
    sh_offset: 16,
    sh_size: 20,
    sh_link: 24,
    sh_info: 28,
    sh_addralign: 32,
    sh_entsize: 36,
  },
  dyn: { size: 8, d_tag: 0, d_val: 4 },
  sym: { size: 16, st_name: 0, st_value: 4, st_size: 8, st_info: 12, st_other: 13, st_shndx: 14 },
};

const ELF64: Layouts = {
  ehdr: {
    size: 64,
    e_type: 16,
    e_machine: 18,
    e_version: 20,
    e_entry: 24,
    e_phoff: 32,
    e_shoff: 40,
    e_flags: 48,
    e_ehsize: 52,
    e_phentsize: 54,
    e_phnum: 56,
    e_shentsize: 58,
    e_shnum: 60,
    e_shstrndx: 62,
  },
  phdr: {
    size: 56,
    p_type: 0,
    p_flags: 4,
    p_offset: 8,
    p_vaddr: 16,
    p_paddr: 24,
    p_filesz: 32,
    p_memsz: 40,
    p_align: 48,
  },
  shdr: {
    size: 64,
    sh_name: 0,
    sh_type: 4,
    sh_flags: 8,
    sh_addr: 16,
    sh_offset: 24,
    sh_size: 32,
    sh_link: 40,
    sh_info: 44,
    sh_addralign: 48,
    sh_entsize: 56,
  },
  dyn: { size: 16, d_tag: 0, d_val: 8 },
  sym: { size: 24, st_name: 0, st_info: 4, st_other: 5, st_shndx: 6, st_value: 8, st_size: 16 },
};

export function layoutsFor(is64: boolean): Layouts {
  return is64 ? ELF64 : ELF32;
}

/** Symbol-version records have the same layout in both classes. */
export const VERNEED = { size: 16, vn_version: 0, vn_cnt: 2, vn_file: 4, vn_aux: 8, vn_next: 12 } as const;
export const VERNAUX = {
  size: 16,
  vna_hash: 0,
  vna_flags: 4,
  vna_other: 6,
  vna_name: 8,
  vna_next: 12,
} as const;
export const VERDEF = {
  size: 20,
  vd_version: 0,
  vd_flags: 2,
  vd_ndx: 4,
  vd_cnt: 6,
  vd_hash: 8,
  vd_aux: 12,
  vd_next: 16,
} as const;
export const VERDAUX = { size: 8, vda_name: 0, vda_next: 4 } as const;
