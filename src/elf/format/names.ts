/**
 * Names for ELF numbers, as spelled in <elf.h> (EM_X86_64, PT_LOAD, DT_NEEDED...), plus a short
 * human description where the constant alone says little (machines, file types, OS ABIs).
 * Tables only, no logic beyond lookup: a value without a name gives undefined, and callers show
 * the number.
 *
 * Processor-specific ranges (0x70000000..) mean different things on different machines, so those
 * lookups take e_machine.
 */

type Table = ReadonlyMap<number, string>;
type BigTable = ReadonlyMap<bigint, string>;

const table = (entries: Array<[number, string]>): Table => new Map(entries);
const bigTable = (entries: Array<[bigint, string]>): BigTable => new Map(entries);

// e_machine values used below for processor-specific names.
const M_SPARC = [2, 18, 43];
const M_MIPS = [8, 10];
const M_PPC = 20;
const M_PPC64 = 21;
const M_ARM = 40;
const M_X86_64 = 62;
const M_AARCH64 = 183;
const M_RISCV = 243;

/** e_machine → [constant, description]. */
const MACHINES = new Map<number, [string, string]>([
  [0, ['EM_NONE', 'no machine']],
  [2, ['EM_SPARC', 'SPARC']],
  [3, ['EM_386', 'Intel 80386']],
  [4, ['EM_68K', 'Motorola 68000']],
  [5, ['EM_88K', 'Motorola 88000']],
  [7, ['EM_860', 'Intel 80860']],
  [8, ['EM_MIPS', 'MIPS']],
  [10, ['EM_MIPS_RS3_LE', 'MIPS R3000 little-endian']],
  [15, ['EM_PARISC', 'HP PA-RISC']],
  [18, ['EM_SPARC32PLUS', 'SPARC v8+']],
  [20, ['EM_PPC', 'PowerPC']],
  [21, ['EM_PPC64', 'PowerPC64']],
  [22, ['EM_S390', 'IBM S/390']],
  [40, ['EM_ARM', 'ARM']],
  [42, ['EM_SH', 'Renesas SuperH']],
  [43, ['EM_SPARCV9', 'SPARC v9']],
  [50, ['EM_IA_64', 'Intel IA-64']],
  [62, ['EM_X86_64', 'x86-64']],
  [75, ['EM_VAX', 'VAX']],
  [76, ['EM_CRIS', 'Axis CRIS']],
  [87, ['EM_V850', 'NEC v850']],
  [88, ['EM_M32R', 'Mitsubishi M32R']],
  [92, ['EM_OPENRISC', 'OpenRISC']],
  [94, ['EM_XTENSA', 'Tensilica Xtensa']],
  [106, ['EM_BLACKFIN', 'Analog Devices Blackfin']],
  [113, ['EM_ALTERA_NIOS2', 'Altera Nios II']],
  [140, ['EM_TI_C6000', 'TI C6000']],
  [164, ['EM_QDSP6', 'Qualcomm Hexagon']],
  [183, ['EM_AARCH64', 'AArch64']],
  [188, ['EM_MICROBLAZE', 'Xilinx MicroBlaze']],
  [189, ['EM_TILEPRO', 'Tilera TILEPro']],
  [191, ['EM_TILEGX', 'Tilera TILE-Gx']],
  [195, ['EM_ARCV2', 'Synopsys ARCv2']],
  [224, ['EM_AMDGPU', 'AMD GPU']],
  [243, ['EM_RISCV', 'RISC-V']],
  [247, ['EM_BPF', 'Linux BPF']],
  [252, ['EM_CSKY', 'C-SKY']],
  [258, ['EM_LOONGARCH', 'LoongArch']],
  [0x9026, ['EM_ALPHA', 'Alpha']],
]);

/** e_type → [constant, description]. */
const TYPES = new Map<number, [string, string]>([
  [0, ['ET_NONE', 'no file type']],
  [1, ['ET_REL', 'relocatable object']],
  [2, ['ET_EXEC', 'executable']],
  [3, ['ET_DYN', 'shared object']],
  [4, ['ET_CORE', 'core file']],
]);

/** e_ident[EI_OSABI] → [constant, description]. */
const OSABIS = new Map<number, [string, string]>([
  [0, ['ELFOSABI_SYSV', 'UNIX System V']],
  [1, ['ELFOSABI_HPUX', 'HP-UX']],
  [2, ['ELFOSABI_NETBSD', 'NetBSD']],
  [3, ['ELFOSABI_GNU', 'GNU/Linux']],
  [6, ['ELFOSABI_SOLARIS', 'Solaris']],
  [7, ['ELFOSABI_AIX', 'AIX']],
  [8, ['ELFOSABI_IRIX', 'IRIX']],
  [9, ['ELFOSABI_FREEBSD', 'FreeBSD']],
  [10, ['ELFOSABI_TRU64', 'Tru64']],
  [11, ['ELFOSABI_MODESTO', 'Novell Modesto']],
  [12, ['ELFOSABI_OPENBSD', 'OpenBSD']],
  [13, ['ELFOSABI_OPENVMS', 'OpenVMS']],
  [14, ['ELFOSABI_NSK', 'HP Non-Stop Kernel']],
  [15, ['ELFOSABI_AROS', 'AROS']],
  [16, ['ELFOSABI_FENIXOS', 'FenixOS']],
  [17, ['ELFOSABI_CLOUDABI', 'CloudABI']],
  [18, ['ELFOSABI_OPENVOS', 'OpenVOS']],
  [97, ['ELFOSABI_ARM', 'ARM']],
  [255, ['ELFOSABI_STANDALONE', 'standalone']],
]);

const SEGMENT_TYPES = table([
  [0, 'PT_NULL'],
  [1, 'PT_LOAD'],
  [2, 'PT_DYNAMIC'],
  [3, 'PT_INTERP'],
  [4, 'PT_NOTE'],
  [5, 'PT_SHLIB'],
  [6, 'PT_PHDR'],
  [7, 'PT_TLS'],
  [0x6474e550, 'PT_GNU_EH_FRAME'],
  [0x6474e551, 'PT_GNU_STACK'],
  [0x6474e552, 'PT_GNU_RELRO'],
  [0x6474e553, 'PT_GNU_PROPERTY'],
  [0x6474e554, 'PT_GNU_SFRAME'],
  [0x65a3dbe5, 'PT_OPENBSD_MUTABLE'],
  [0x65a3dbe6, 'PT_OPENBSD_RANDOMIZE'],
  [0x65a3dbe7, 'PT_OPENBSD_WXNEEDED'],
  [0x65a41be6, 'PT_OPENBSD_BOOTDATA'],
  [0x6ffffffa, 'PT_SUNWBSS'],
  [0x6ffffffb, 'PT_SUNWSTACK'],
]);

const SEGMENT_TYPES_PROC = new Map<number, Table>([
  [M_ARM, table([[0x70000001, 'PT_ARM_EXIDX']])],
  [M_AARCH64, table([[0x70000002, 'PT_AARCH64_MEMTAG_MTE']])],
  ...M_MIPS.map((m): [number, Table] => [
    m,
    table([
      [0x70000000, 'PT_MIPS_REGINFO'],
      [0x70000001, 'PT_MIPS_RTPROC'],
      [0x70000002, 'PT_MIPS_OPTIONS'],
      [0x70000003, 'PT_MIPS_ABIFLAGS'],
    ]),
  ]),
  [M_RISCV, table([[0x70000003, 'PT_RISCV_ATTRIBUTES']])],
]);

const SECTION_TYPES = table([
  [0, 'SHT_NULL'],
  [1, 'SHT_PROGBITS'],
  [2, 'SHT_SYMTAB'],
  [3, 'SHT_STRTAB'],
  [4, 'SHT_RELA'],
  [5, 'SHT_HASH'],
  [6, 'SHT_DYNAMIC'],
  [7, 'SHT_NOTE'],
  [8, 'SHT_NOBITS'],
  [9, 'SHT_REL'],
  [10, 'SHT_SHLIB'],
  [11, 'SHT_DYNSYM'],
  [14, 'SHT_INIT_ARRAY'],
  [15, 'SHT_FINI_ARRAY'],
  [16, 'SHT_PREINIT_ARRAY'],
  [17, 'SHT_GROUP'],
  [18, 'SHT_SYMTAB_SHNDX'],
  [19, 'SHT_RELR'],
  [0x6fff4c00, 'SHT_LLVM_ODRTAB'],
  [0x6fff4c01, 'SHT_LLVM_LINKER_OPTIONS'],
  [0x6fff4c03, 'SHT_LLVM_ADDRSIG'],
  [0x6fff4c04, 'SHT_LLVM_DEPENDENT_LIBRARIES'],
  [0x6fff4c05, 'SHT_LLVM_SYMPART'],
  [0x6fff4c08, 'SHT_LLVM_BB_ADDR_MAP_V0'],
  [0x6fff4c09, 'SHT_LLVM_OFFLOADING'],
  [0x6fff4c0a, 'SHT_LLVM_LTO'],
  [0x6ffffff5, 'SHT_GNU_ATTRIBUTES'],
  [0x6ffffff6, 'SHT_GNU_HASH'],
  [0x6ffffff7, 'SHT_GNU_LIBLIST'],
  [0x6ffffff8, 'SHT_CHECKSUM'],
  [0x6ffffffd, 'SHT_GNU_VERDEF'],
  [0x6ffffffe, 'SHT_GNU_VERNEED'],
  [0x6fffffff, 'SHT_GNU_VERSYM'],
]);

const SECTION_TYPES_PROC = new Map<number, Table>([
  [
    M_ARM,
    table([
      [0x70000001, 'SHT_ARM_EXIDX'],
      [0x70000002, 'SHT_ARM_PREEMPTMAP'],
      [0x70000003, 'SHT_ARM_ATTRIBUTES'],
    ]),
  ],
  [M_AARCH64, table([[0x70000003, 'SHT_AARCH64_ATTRIBUTES']])],
  [M_X86_64, table([[0x70000001, 'SHT_X86_64_UNWIND']])],
  ...M_MIPS.map((m): [number, Table] => [
    m,
    table([
      [0x70000006, 'SHT_MIPS_REGINFO'],
      [0x7000000d, 'SHT_MIPS_OPTIONS'],
      [0x7000001e, 'SHT_MIPS_DWARF'],
      [0x7000002a, 'SHT_MIPS_ABIFLAGS'],
    ]),
  ]),
  [M_RISCV, table([[0x70000003, 'SHT_RISCV_ATTRIBUTES']])],
]);

/** sh_flags bits → [constant, readelf's letter]. */
export const SECTION_FLAG_BITS: ReadonlyArray<readonly [bigint, string, string]> = [
  [0x1n, 'SHF_WRITE', 'W'],
  [0x2n, 'SHF_ALLOC', 'A'],
  [0x4n, 'SHF_EXECINSTR', 'X'],
  [0x10n, 'SHF_MERGE', 'M'],
  [0x20n, 'SHF_STRINGS', 'S'],
  [0x40n, 'SHF_INFO_LINK', 'I'],
  [0x80n, 'SHF_LINK_ORDER', 'L'],
  [0x100n, 'SHF_OS_NONCONFORMING', 'O'],
  [0x200n, 'SHF_GROUP', 'G'],
  [0x400n, 'SHF_TLS', 'T'],
  [0x800n, 'SHF_COMPRESSED', 'C'],
  [0x200000n, 'SHF_GNU_RETAIN', 'R'],
  [0x80000000n, 'SHF_EXCLUDE', 'E'],
];

/** p_flags bits → [constant, letter]. */
export const SEGMENT_FLAG_BITS: ReadonlyArray<readonly [number, string, string]> = [
  [4, 'PF_R', 'R'],
  [2, 'PF_W', 'W'],
  [1, 'PF_X', 'X'],
];

const DYNAMIC_TAGS = bigTable([
  [0n, 'DT_NULL'],
  [1n, 'DT_NEEDED'],
  [2n, 'DT_PLTRELSZ'],
  [3n, 'DT_PLTGOT'],
  [4n, 'DT_HASH'],
  [5n, 'DT_STRTAB'],
  [6n, 'DT_SYMTAB'],
  [7n, 'DT_RELA'],
  [8n, 'DT_RELASZ'],
  [9n, 'DT_RELAENT'],
  [10n, 'DT_STRSZ'],
  [11n, 'DT_SYMENT'],
  [12n, 'DT_INIT'],
  [13n, 'DT_FINI'],
  [14n, 'DT_SONAME'],
  [15n, 'DT_RPATH'],
  [16n, 'DT_SYMBOLIC'],
  [17n, 'DT_REL'],
  [18n, 'DT_RELSZ'],
  [19n, 'DT_RELENT'],
  [20n, 'DT_PLTREL'],
  [21n, 'DT_DEBUG'],
  [22n, 'DT_TEXTREL'],
  [23n, 'DT_JMPREL'],
  [24n, 'DT_BIND_NOW'],
  [25n, 'DT_INIT_ARRAY'],
  [26n, 'DT_FINI_ARRAY'],
  [27n, 'DT_INIT_ARRAYSZ'],
  [28n, 'DT_FINI_ARRAYSZ'],
  [29n, 'DT_RUNPATH'],
  [30n, 'DT_FLAGS'],
  [32n, 'DT_PREINIT_ARRAY'],
  [33n, 'DT_PREINIT_ARRAYSZ'],
  [34n, 'DT_SYMTAB_SHNDX'],
  [35n, 'DT_RELRSZ'],
  [36n, 'DT_RELR'],
  [37n, 'DT_RELRENT'],
  [0x6000000dn, 'DT_ANDROID_REL'],
  [0x6000000en, 'DT_ANDROID_RELSZ'],
  [0x6000000fn, 'DT_ANDROID_RELA'],
  [0x60000010n, 'DT_ANDROID_RELASZ'],
  [0x6fffe000n, 'DT_ANDROID_RELR'],
  [0x6fffe001n, 'DT_ANDROID_RELRSZ'],
  [0x6fffe003n, 'DT_ANDROID_RELRENT'],
  [0x6ffffdf5n, 'DT_GNU_PRELINKED'],
  [0x6ffffdf6n, 'DT_GNU_CONFLICTSZ'],
  [0x6ffffdf7n, 'DT_GNU_LIBLISTSZ'],
  [0x6ffffdf8n, 'DT_CHECKSUM'],
  [0x6ffffdf9n, 'DT_PLTPADSZ'],
  [0x6ffffdfan, 'DT_MOVEENT'],
  [0x6ffffdfbn, 'DT_MOVESZ'],
  [0x6ffffdfcn, 'DT_FEATURE_1'],
  [0x6ffffdfdn, 'DT_POSFLAG_1'],
  [0x6ffffdfen, 'DT_SYMINSZ'],
  [0x6ffffdffn, 'DT_SYMINENT'],
  [0x6ffffef5n, 'DT_GNU_HASH'],
  [0x6ffffef6n, 'DT_TLSDESC_PLT'],
  [0x6ffffef7n, 'DT_TLSDESC_GOT'],
  [0x6ffffef8n, 'DT_GNU_CONFLICT'],
  [0x6ffffef9n, 'DT_GNU_LIBLIST'],
  [0x6ffffefan, 'DT_CONFIG'],
  [0x6ffffefbn, 'DT_DEPAUDIT'],
  [0x6ffffefcn, 'DT_AUDIT'],
  [0x6ffffefdn, 'DT_PLTPAD'],
  [0x6ffffefen, 'DT_MOVETAB'],
  [0x6ffffeffn, 'DT_SYMINFO'],
  [0x6ffffff0n, 'DT_VERSYM'],
  [0x6ffffff9n, 'DT_RELACOUNT'],
  [0x6ffffffan, 'DT_RELCOUNT'],
  [0x6ffffffbn, 'DT_FLAGS_1'],
  [0x6ffffffcn, 'DT_VERDEF'],
  [0x6ffffffdn, 'DT_VERDEFNUM'],
  [0x6ffffffen, 'DT_VERNEED'],
  [0x6fffffffn, 'DT_VERNEEDNUM'],
  [0x7ffffffdn, 'DT_AUXILIARY'],
  [0x7ffffffen, 'DT_USED'],
  [0x7fffffffn, 'DT_FILTER'],
]);

const MIPS_DYNAMIC_TAGS = bigTable([
  [0x70000001n, 'DT_MIPS_RLD_VERSION'],
  [0x70000002n, 'DT_MIPS_TIME_STAMP'],
  [0x70000003n, 'DT_MIPS_ICHECKSUM'],
  [0x70000004n, 'DT_MIPS_IVERSION'],
  [0x70000005n, 'DT_MIPS_FLAGS'],
  [0x70000006n, 'DT_MIPS_BASE_ADDRESS'],
  [0x70000007n, 'DT_MIPS_MSYM'],
  [0x70000008n, 'DT_MIPS_CONFLICT'],
  [0x70000009n, 'DT_MIPS_LIBLIST'],
  [0x7000000an, 'DT_MIPS_LOCAL_GOTNO'],
  [0x7000000bn, 'DT_MIPS_CONFLICTNO'],
  [0x70000010n, 'DT_MIPS_LIBLISTNO'],
  [0x70000011n, 'DT_MIPS_SYMTABNO'],
  [0x70000012n, 'DT_MIPS_UNREFEXTNO'],
  [0x70000013n, 'DT_MIPS_GOTSYM'],
  [0x70000014n, 'DT_MIPS_HIPAGENO'],
  [0x70000016n, 'DT_MIPS_RLD_MAP'],
  [0x70000032n, 'DT_MIPS_PLTGOT'],
  [0x70000034n, 'DT_MIPS_RWPLT'],
  [0x70000035n, 'DT_MIPS_RLD_MAP_REL'],
]);

const DYNAMIC_TAGS_PROC = new Map<number, BigTable>([
  ...M_MIPS.map((m): [number, BigTable] => [m, MIPS_DYNAMIC_TAGS]),
  [
    M_AARCH64,
    bigTable([
      [0x70000001n, 'DT_AARCH64_BTI_PLT'],
      [0x70000003n, 'DT_AARCH64_PAC_PLT'],
      [0x70000005n, 'DT_AARCH64_VARIANT_PCS'],
    ]),
  ],
  [
    M_PPC,
    bigTable([
      [0x70000000n, 'DT_PPC_GOT'],
      [0x70000001n, 'DT_PPC_OPT'],
    ]),
  ],
  [
    M_PPC64,
    bigTable([
      [0x70000000n, 'DT_PPC64_GLINK'],
      [0x70000001n, 'DT_PPC64_OPD'],
      [0x70000002n, 'DT_PPC64_OPDSZ'],
      [0x70000003n, 'DT_PPC64_OPT'],
    ]),
  ],
  [M_RISCV, bigTable([[0x70000001n, 'DT_RISCV_VARIANT_CC']])],
  ...M_SPARC.map((m): [number, BigTable] => [m, bigTable([[0x70000001n, 'DT_SPARC_REGISTER']])]),
]);

/** DT_FLAGS bits. */
export const DF_BITS: ReadonlyArray<readonly [bigint, string]> = [
  [0x1n, 'DF_ORIGIN'],
  [0x2n, 'DF_SYMBOLIC'],
  [0x4n, 'DF_TEXTREL'],
  [0x8n, 'DF_BIND_NOW'],
  [0x10n, 'DF_STATIC_TLS'],
];

/** DT_FLAGS_1 bits. */
export const DF_1_BITS: ReadonlyArray<readonly [bigint, string]> = [
  [0x1n, 'DF_1_NOW'],
  [0x2n, 'DF_1_GLOBAL'],
  [0x4n, 'DF_1_GROUP'],
  [0x8n, 'DF_1_NODELETE'],
  [0x10n, 'DF_1_LOADFLTR'],
  [0x20n, 'DF_1_INITFIRST'],
  [0x40n, 'DF_1_NOOPEN'],
  [0x80n, 'DF_1_ORIGIN'],
  [0x100n, 'DF_1_DIRECT'],
  [0x200n, 'DF_1_TRANS'],
  [0x400n, 'DF_1_INTERPOSE'],
  [0x800n, 'DF_1_NODEFLIB'],
  [0x1000n, 'DF_1_NODUMP'],
  [0x2000n, 'DF_1_CONFALT'],
  [0x4000n, 'DF_1_ENDFILTEE'],
  [0x8000n, 'DF_1_DISPRELDNE'],
  [0x10000n, 'DF_1_DISPRELPND'],
  [0x20000n, 'DF_1_NODIRECT'],
  [0x40000n, 'DF_1_IGNMULDEF'],
  [0x80000n, 'DF_1_NOKSYMS'],
  [0x100000n, 'DF_1_NOHDR'],
  [0x200000n, 'DF_1_EDITED'],
  [0x400000n, 'DF_1_NORELOC'],
  [0x800000n, 'DF_1_SYMINTPOSE'],
  [0x1000000n, 'DF_1_GLOBAUDIT'],
  [0x2000000n, 'DF_1_SINGLETON'],
  [0x4000000n, 'DF_1_STUB'],
  [0x8000000n, 'DF_1_PIE'],
  [0x10000000n, 'DF_1_KMOD'],
  [0x20000000n, 'DF_1_WEAKFILTER'],
  [0x40000000n, 'DF_1_NOCOMMON'],
];

/** Note types by owner name ("GNU", "CORE"...); a type means nothing without its owner. */
const NOTE_TYPES = new Map<string, Table>([
  [
    'GNU',
    table([
      [1, 'NT_GNU_ABI_TAG'],
      [2, 'NT_GNU_HWCAP'],
      [3, 'NT_GNU_BUILD_ID'],
      [4, 'NT_GNU_GOLD_VERSION'],
      [5, 'NT_GNU_PROPERTY_TYPE_0'],
      [0x100, 'NT_GNU_BUILD_ATTRIBUTE_OPEN'],
      [0x101, 'NT_GNU_BUILD_ATTRIBUTE_FUNC'],
    ]),
  ],
  [
    'CORE',
    table([
      [1, 'NT_PRSTATUS'],
      [2, 'NT_PRFPREG'],
      [3, 'NT_PRPSINFO'],
      [4, 'NT_TASKSTRUCT'],
      [6, 'NT_AUXV'],
      [0x46494c45, 'NT_FILE'],
      [0x53494749, 'NT_SIGINFO'],
    ]),
  ],
  [
    'LINUX',
    table([
      [0x202, 'NT_X86_XSTATE'],
      [0x400, 'NT_ARM_VFP'],
      [0x401, 'NT_ARM_TLS'],
    ]),
  ],
  ['stapsdt', table([[3, 'NT_STAPSDT']])],
  ['Go', table([[4, 'NT_GO_BUILDID']])],
  ['FDO', table([[0xcafe1a7e, 'NT_FDO_PACKAGING_METADATA']])],
  ['Android', table([[1, 'NT_ANDROID_TYPE_IDENT']])],
  [
    'FreeBSD',
    table([
      [1, 'NT_FREEBSD_ABI_TAG'],
      [2, 'NT_FREEBSD_NOINIT_TAG'],
      [3, 'NT_FREEBSD_ARCH_TAG'],
      [4, 'NT_FREEBSD_FEATURE_CTL'],
    ]),
  ],
  ['NetBSD', table([[1, 'NT_NETBSD_IDENT']])],
  ['OpenBSD', table([[1, 'NT_OPENBSD_IDENT']])],
]);

/** NT_GNU_ABI_TAG's first word. */
export const GNU_ABI_TAG_OS: Table = table([
  [0, 'Linux'],
  [1, 'Hurd'],
  [2, 'Solaris'],
  [3, 'FreeBSD'],
  [4, 'NetBSD'],
  [5, 'Syllable'],
  [6, 'NaCl'],
]);

/** pr_type values of NT_GNU_PROPERTY_TYPE_0 notes. */
const GNU_PROPERTY_TYPES = table([
  [1, 'GNU_PROPERTY_STACK_SIZE'],
  [2, 'GNU_PROPERTY_NO_COPY_ON_PROTECTED'],
  [0xb0000000, 'GNU_PROPERTY_UINT32_AND_LO'],
  [0xb0008000, 'GNU_PROPERTY_1_NEEDED'],
  [0xc0000000, 'GNU_PROPERTY_AARCH64_FEATURE_1_AND'],
  [0xc0000002, 'GNU_PROPERTY_X86_FEATURE_1_AND'],
  [0xc0008000, 'GNU_PROPERTY_X86_UINT32_OR_LO'],
  [0xc0008001, 'GNU_PROPERTY_X86_FEATURE_2_USED'],
  [0xc0008002, 'GNU_PROPERTY_X86_ISA_1_NEEDED'],
  [0xc0010001, 'GNU_PROPERTY_X86_FEATURE_2_NEEDED'],
  [0xc0010002, 'GNU_PROPERTY_X86_ISA_1_USED'],
]);

/** Feature bits of the bit-mask properties cald names. */
export const GNU_PROPERTY_BITS: ReadonlyMap<number, ReadonlyArray<readonly [number, string]>> = new Map([
  [
    0xc0000000,
    [
      [1, 'BTI'],
      [2, 'PAC'],
      [4, 'GCS'],
    ],
  ],
  [
    0xc0000002,
    [
      [1, 'IBT'],
      [2, 'SHSTK'],
      [4, 'LAM_U48'],
      [8, 'LAM_U57'],
    ],
  ],
  [
    0xc0008002,
    [
      [1, 'x86-64-baseline'],
      [2, 'x86-64-v2'],
      [4, 'x86-64-v3'],
      [8, 'x86-64-v4'],
    ],
  ],
  [
    0xc0010002,
    [
      [1, 'x86-64-baseline'],
      [2, 'x86-64-v2'],
      [4, 'x86-64-v3'],
      [8, 'x86-64-v4'],
    ],
  ],
  [
    0xc0008001,
    [
      [1, 'x86'],
      [2, 'x87'],
      [4, 'MMX'],
      [8, 'XMM'],
      [16, 'YMM'],
      [32, 'ZMM'],
      [64, 'FXSR'],
      [128, 'XSAVE'],
      [256, 'XSAVEOPT'],
      [512, 'XSAVEC'],
      [1024, 'TMM'],
      [2048, 'MASK'],
    ],
  ],
  [0xb0008000, [[1, 'indirect-extern-access']]],
]);

export function machineName(machine: number): { constant: string; description: string } | undefined {
  const m = MACHINES.get(machine);
  return m === undefined ? undefined : { constant: m[0], description: m[1] };
}

export function fileTypeName(type: number): { constant: string; description: string } | undefined {
  const t = TYPES.get(type);
  return t === undefined ? undefined : { constant: t[0], description: t[1] };
}

export function osAbiName(osabi: number): { constant: string; description: string } | undefined {
  const o = OSABIS.get(osabi);
  return o === undefined ? undefined : { constant: o[0], description: o[1] };
}

export function segmentTypeName(type: number, machine: number): string | undefined {
  return SEGMENT_TYPES.get(type) ?? SEGMENT_TYPES_PROC.get(machine)?.get(type);
}

export function sectionTypeName(type: number, machine: number): string | undefined {
  return SECTION_TYPES.get(type) ?? SECTION_TYPES_PROC.get(machine)?.get(type);
}

export function dynamicTagName(tag: bigint, machine: number): string | undefined {
  return DYNAMIC_TAGS.get(tag) ?? DYNAMIC_TAGS_PROC.get(machine)?.get(tag);
}

export function noteTypeName(owner: string, type: number): string | undefined {
  return NOTE_TYPES.get(owner)?.get(type);
}

export function gnuPropertyName(type: number): string | undefined {
  return GNU_PROPERTY_TYPES.get(type);
}
