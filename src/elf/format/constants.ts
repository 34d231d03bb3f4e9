/**
 * ELF constants, named as in <elf.h> and the System V gABI. Values only: no logic lives here.
 */

// e_ident
export const ELFMAG = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const EI_VERSION = 6;
export const EI_OSABI = 7;
export const EI_ABIVERSION = 8;
export const EI_PAD = 9;
export const EI_NIDENT = 16;
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;
export const EV_CURRENT = 1;

// e_ident[EI_OSABI]
export const ELFOSABI_SYSV = 0;
export const ELFOSABI_GNU = 3;

// e_type
export const ET_NONE = 0;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

// e_machine (the ones cald names; any other value is still read and shown as a number)
export const EM_386 = 3;
export const EM_68K = 4;
export const EM_SPARC = 2;
export const EM_MIPS = 8;
export const EM_PARISC = 15;
export const EM_SPARC32PLUS = 18;
export const EM_PPC = 20;
export const EM_PPC64 = 21;
export const EM_S390 = 22;
export const EM_ARM = 40;
export const EM_SH = 42;
export const EM_SPARCV9 = 43;
export const EM_IA_64 = 50;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_TILEGX = 191;
export const EM_RISCV = 243;
export const EM_BPF = 247;
export const EM_LOONGARCH = 258;
export const EM_ALPHA = 0x9026;

// Program header types
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_SHLIB = 5;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_EH_FRAME = 0x6474e550;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;
export const PT_GNU_PROPERTY = 0x6474e553;
export const PT_GNU_SFRAME = 0x6474e554;
export const PT_ARM_EXIDX = 0x70000001;
export const PT_MIPS_REGINFO = 0x70000000;
export const PT_MIPS_ABIFLAGS = 0x70000003;
export const PT_RISCV_ATTRIBUTES = 0x70000003;

// Program header flags
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

// Section header types
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_HASH = 5;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const SHT_INIT_ARRAY = 14;
export const SHT_FINI_ARRAY = 15;
export const SHT_PREINIT_ARRAY = 16;
export const SHT_GROUP = 17;
export const SHT_SYMTAB_SHNDX = 18;
export const SHT_RELR = 19;
export const SHT_GNU_ATTRIBUTES = 0x6ffffff5;
export const SHT_GNU_HASH = 0x6ffffff6;
export const SHT_GNU_LIBLIST = 0x6ffffff7;
export const SHT_GNU_VERDEF = 0x6ffffffd;
export const SHT_GNU_VERNEED = 0x6ffffffe;
export const SHT_GNU_VERSYM = 0x6fffffff;

// Section flags
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

// Special section indexes
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_XINDEX = 0xffff;
/** e_phnum value meaning "the real count is in section 0's sh_info". */
export const PN_XNUM = 0xffff;

// Dynamic tags
export const DT_NULL = 0n;
export const DT_NEEDED = 1n;
export const DT_PLTRELSZ = 2n;
export const DT_PLTGOT = 3n;
export const DT_HASH = 4n;
export const DT_STRTAB = 5n;
export const DT_SYMTAB = 6n;
export const DT_RELA = 7n;
export const DT_RELASZ = 8n;
export const DT_RELAENT = 9n;
export const DT_STRSZ = 10n;
export const DT_SYMENT = 11n;
export const DT_INIT = 12n;
export const DT_FINI = 13n;
export const DT_SONAME = 14n;
export const DT_RPATH = 15n;
export const DT_SYMBOLIC = 16n;
export const DT_REL = 17n;
export const DT_RELSZ = 18n;
export const DT_RELENT = 19n;
export const DT_PLTREL = 20n;
export const DT_DEBUG = 21n;
export const DT_TEXTREL = 22n;
export const DT_JMPREL = 23n;
export const DT_BIND_NOW = 24n;
export const DT_INIT_ARRAY = 25n;
export const DT_FINI_ARRAY = 26n;
export const DT_INIT_ARRAYSZ = 27n;
export const DT_FINI_ARRAYSZ = 28n;
export const DT_RUNPATH = 29n;
export const DT_FLAGS = 30n;
export const DT_PREINIT_ARRAY = 32n;
export const DT_PREINIT_ARRAYSZ = 33n;
export const DT_SYMTAB_SHNDX = 34n;
export const DT_RELRSZ = 35n;
export const DT_RELR = 36n;
export const DT_RELRENT = 37n;
export const DT_GNU_PRELINKED = 0x6ffffdf5n;
export const DT_GNU_CONFLICTSZ = 0x6ffffdf6n;
export const DT_GNU_LIBLISTSZ = 0x6ffffdf7n;
export const DT_CHECKSUM = 0x6ffffdf8n;
export const DT_PLTPADSZ = 0x6ffffdf9n;
export const DT_MOVEENT = 0x6ffffdfan;
export const DT_MOVESZ = 0x6ffffdfbn;
export const DT_FEATURE_1 = 0x6ffffdfcn;
export const DT_POSFLAG_1 = 0x6ffffdfdn;
export const DT_SYMINSZ = 0x6ffffdfen;
export const DT_SYMINENT = 0x6ffffdffn;
export const DT_GNU_HASH = 0x6ffffef5n;
export const DT_TLSDESC_PLT = 0x6ffffef6n;
export const DT_TLSDESC_GOT = 0x6ffffef7n;
export const DT_GNU_CONFLICT = 0x6ffffef8n;
export const DT_GNU_LIBLIST = 0x6ffffef9n;
export const DT_CONFIG = 0x6ffffefan;
export const DT_DEPAUDIT = 0x6ffffefbn;
export const DT_AUDIT = 0x6ffffefcn;
export const DT_PLTPAD = 0x6ffffefdn;
export const DT_MOVETAB = 0x6ffffefen;
export const DT_SYMINFO = 0x6ffffeffn;
export const DT_VERSYM = 0x6ffffff0n;
export const DT_RELACOUNT = 0x6ffffff9n;
export const DT_RELCOUNT = 0x6ffffffan;
export const DT_FLAGS_1 = 0x6ffffffbn;
export const DT_VERDEF = 0x6ffffffcn;
export const DT_VERDEFNUM = 0x6ffffffdn;
export const DT_VERNEED = 0x6ffffffen;
export const DT_VERNEEDNUM = 0x6fffffffn;
export const DT_AUXILIARY = 0x7ffffffdn;
export const DT_USED = 0x7ffffffen;
export const DT_FILTER = 0x7fffffffn;
export const DT_MIPS_RLD_MAP = 0x70000016n;
export const DT_MIPS_RLD_MAP_REL = 0x70000035n;

/** Dynamic tags whose value is an offset into the dynamic string table. */
export const DT_STRING_TAGS: ReadonlySet<bigint> = new Set([
  DT_NEEDED,
  DT_SONAME,
  DT_RPATH,
  DT_RUNPATH,
  DT_CONFIG,
  DT_DEPAUDIT,
  DT_AUDIT,
  DT_AUXILIARY,
  DT_USED,
  DT_FILTER,
]);

// DT_FLAGS / DT_FLAGS_1 bits cald touches
export const DF_1_NODEFLIB = 0x800n;
/** DT_FLAGS_1: the object is a position-independent executable (dlopen refuses it). */
export const DF_1_PIE = 0x8000000n;

// Symbol versioning
export const VER_NEED_CURRENT = 1;
export const VER_DEF_CURRENT = 1;
export const VER_FLG_BASE = 0x1;
export const VER_FLG_WEAK = 0x2;
export const VER_NDX_LOCAL = 0;
export const VER_NDX_GLOBAL = 1;
export const VERSYM_HIDDEN = 0x8000;

// Notes
export const NT_GNU_ABI_TAG = 1;
export const NT_GNU_HWCAP = 2;
export const NT_GNU_BUILD_ID = 3;
export const NT_GNU_GOLD_VERSION = 4;
export const NT_GNU_PROPERTY_TYPE_0 = 5;
