"""Port of the first-chunk unit-mapping set-up of mm/percpu.c (Linux 6.12).

Covered here:

* ``struct pcpu_group_info`` / ``struct pcpu_alloc_info``
  (include/linux/percpu.h) as :class:`pcpu_group_info` / :class:`pcpu_alloc_info`;
* ``pcpu_alloc_alloc_info()``, ``pcpu_dump_alloc_info()`` and
  ``pcpu_build_alloc_info()`` (mm/percpu.c);
* the two back-end variants of ``pcpu_verify_alloc_info()``
  (mm/percpu-km.c and mm/percpu-vm.c);
* the sanity checks and unit-map tables at the start of
  ``pcpu_setup_first_chunk()`` (:func:`pcpu_setup_first_chunk_checks`).

The embedding step (allocation of group areas, base address, base offsets)
lives in :mod:`impl.unitmap`.

Conventions
-----------
Kernel names are kept for functions, parameters, locals and struct fields.
What is a compile-time constant or global in the kernel is a keyword
parameter here; the defaults are those of the Debian 6.12 amd64 build
(``CONFIG_NR_CPUS=8192``, ``CONFIG_RANDOM_KMALLOC_CACHES`` unset, so
``PERCPU_DYNAMIC_EARLY_SIZE`` is 20 KiB, 4 KiB pages, 64-bit longs).

``cpu_possible_mask`` is passed as ``possible_cpus`` (any iterable of CPU
numbers; sparse sets such as ``{0, 2, 5}`` are allowed).  As in the kernel
with ``NR_CPUS > BITS_PER_LONG``, mask walks (``for_each_possible_cpu``,
``cpumask_first``, ``num_possible_cpus``) only look at CPUs below
``nr_cpu_ids``; ``nr_cpu_ids`` defaults to the highest possible CPU plus one,
which is what the kernel derives at boot.

C integer behaviour is modelled where it can change an outcome: ``size_t`` /
``unsigned long`` sums wrap modulo ``2**bits_per_long``, ``int`` division
truncates toward zero, and a division by zero, which traps in the kernel, is
reported as a :class:`PcpuSetupError` of kind ``"divide error"``.

Failures never surface as bare Python exceptions from the ported code paths:
every kernel ``BUG_ON``/``PCPU_SETUP_BUG_ON``/trap, and every input the C
code could not even represent (a negative ``size_t``, a ``groups`` array
shorter than ``nr_groups``, a NULL ``cpu_map``), raises
:class:`PcpuSetupError` whose ``rule`` names the condition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

# ---------------------------------------------------------------------------
# Constants (defaults of the Debian linux-image-6.12 amd64 build)
# ---------------------------------------------------------------------------

PAGE_SIZE_DEFAULT = 4096
BITS_PER_LONG_DEFAULT = 64
NR_CPUS_DEFAULT = 8192  # CONFIG_NR_CPUS (CONFIG_MAXSMP) on Debian amd64

LOCAL_DISTANCE = 10  # include/linux/topology.h
REMOTE_DISTANCE = 20
NUMA_NO_NODE = -1

EINVAL = 22
ENOMEM = 12

INT_MAX = (1 << 31) - 1
INT_MIN = -(1 << 31)
UINT_MAX = (1 << 32) - 1

PCPU_MIN_ALLOC_SHIFT = 2
PCPU_MIN_ALLOC_SIZE = 1 << PCPU_MIN_ALLOC_SHIFT

# The dynamic-area size shift is 10 unless CONFIG_RANDOM_KMALLOC_CACHES is set
# (then 12, or 13 with LOCKDEP and pages larger than 4 KiB).  Debian 6.12 does
# not set it: the dmesg line "d28672" is 28 << 10.
PERCPU_DYNAMIC_SIZE_SHIFT = 10
PERCPU_DYNAMIC_EARLY_SIZE = 20 << PERCPU_DYNAMIC_SIZE_SHIFT  # 20480
PERCPU_DYNAMIC_EARLY_SIZE_RANDOM_KMALLOC = 20 << 12  # 81920
PERCPU_DYNAMIC_RESERVE = 28 << PERCPU_DYNAMIC_SIZE_SHIFT  # 64-bit value
PERCPU_MODULE_RESERVE = 8 << 10  # CONFIG_MODULES, no CONFIG_MEM_ALLOC_PROFILING

PMD_SIZE_X86_64 = 2 << 20

# The condition strings exactly as PCPU_SETUP_BUG_ON stringifies them, in the
# order pcpu_setup_first_chunk() evaluates them.
R_NR_GROUPS = "ai->nr_groups <= 0"
R_STATIC_SIZE = "!ai->static_size"
R_PER_CPU_START = "offset_in_page(__per_cpu_start)"
R_BASE_ADDR_NULL = "!base_addr"
R_BASE_ADDR_ALIGN = "offset_in_page(base_addr)"
R_UNIT_SIZE_SUM = "ai->unit_size < size_sum"
R_UNIT_SIZE_PAGE = "offset_in_page(ai->unit_size)"
R_UNIT_SIZE_MIN = "ai->unit_size < PCPU_MIN_UNIT_SIZE"
R_UNIT_SIZE_BLOCK = "!IS_ALIGNED(ai->unit_size, PCPU_BITMAP_BLOCK_SIZE)"
R_DYN_SIZE = "ai->dyn_size < PERCPU_DYNAMIC_EARLY_SIZE"
R_RESERVED_ALIGN = "!IS_ALIGNED(ai->reserved_size, PCPU_MIN_ALLOC_SIZE)"
R_BLOCK_VS_PAGE = (
    "!(IS_ALIGNED(PCPU_BITMAP_BLOCK_SIZE, PAGE_SIZE) || "
    "IS_ALIGNED(PAGE_SIZE, PCPU_BITMAP_BLOCK_SIZE))"
)
R_VERIFY = "pcpu_verify_alloc_info(ai) < 0"
R_CPU_NR_CPU_IDS = "cpu >= nr_cpu_ids"
R_CPU_POSSIBLE = "!cpu_possible(cpu)"
R_CPU_DUPLICATE = "unit_map[cpu] != UINT_MAX"
R_CPU_UNMAPPED = "unit_map[cpu] == UINT_MAX"

PCPU_SETUP_BUG_ON_RULES: tuple[str, ...] = (
    R_NR_GROUPS,
    R_STATIC_SIZE,
    R_PER_CPU_START,
    R_BASE_ADDR_NULL,
    R_BASE_ADDR_ALIGN,
    R_UNIT_SIZE_SUM,
    R_UNIT_SIZE_PAGE,
    R_UNIT_SIZE_MIN,
    R_UNIT_SIZE_BLOCK,
    R_DYN_SIZE,
    R_RESERVED_ALIGN,
    R_BLOCK_VS_PAGE,
    R_VERIFY,
    R_CPU_NR_CPU_IDS,
    R_CPU_POSSIBLE,
    R_CPU_DUPLICATE,
    R_CPU_UNMAPPED,
)

# BUG_ON() conditions of pcpu_build_alloc_info(), pcpu_dump_alloc_info() and
# pcpu_embed_first_chunk().
R_BUILD_BEST_UPA = "!best_upa"
R_BUILD_NR_UNITS = "unit != nr_units"
R_DUMP_NR_UNITS = "gi->nr_units % upa"
R_EMBED_EMPTY_GROUP = "cpu == NR_CPUS"

# Rule of the last-resort wrapper in pcpu_setup_first_chunk_checks(); seeing it
# means an input slipped past the explicit model checks.
R_MODEL_UNEXPECTED = "model: input not representable in the C structures"

KIND_SETUP_BUG_ON = "PCPU_SETUP_BUG_ON"
KIND_BUG_ON = "BUG_ON"
KIND_DIVIDE_ERROR = "divide error"
KIND_MODEL = "model"


class PcpuSetupError(Exception):
    """A condition under which the kernel would stop (or could not run at all).

    ``rule`` is the violated condition, spelled as the kernel spells it
    (for ``PCPU_SETUP_BUG_ON`` and ``BUG_ON``), as the faulting expression
    (for a division by zero), or with a ``"model: "`` prefix for inputs the C
    types cannot hold.  ``kind`` is one of ``"PCPU_SETUP_BUG_ON"``,
    ``"BUG_ON"``, ``"divide error"`` and ``"model"``; ``function`` is the
    kernel function the condition belongs to; ``detail`` carries values
    (such as the offending CPU) and ``log`` the lines the kernel would have
    printed before stopping, as far as the model can tell.
    """

    def __init__(
        self,
        rule: str,
        *,
        kind: str = KIND_SETUP_BUG_ON,
        function: str = "pcpu_setup_first_chunk",
        detail: str = "",
        log: list[str] | None = None,
    ) -> None:
        msg = f"{function}: {kind}({rule})"
        if detail:
            msg += f" [{detail}]"
        super().__init__(msg)
        self.rule = rule
        self.kind = kind
        self.function = function
        self.detail = detail
        self.log: list[str] = list(log) if log else []


# ---------------------------------------------------------------------------
# C arithmetic helpers
# ---------------------------------------------------------------------------


def _ulong_mask(bits_per_long: int) -> int:
    return (1 << bits_per_long) - 1


def _cdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero); caller guarantees b != 0."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _to_int(x: int) -> int:
    """Conversion of an integer to a 32-bit ``int`` (two's complement wrap)."""
    x &= UINT_MAX
    return x - (1 << 32) if x > INT_MAX else x


def _offset_in_page(p: int, page_size: int) -> int:
    return p & (page_size - 1)


def _pfn_align(x: int, page_size: int, bits_per_long: int) -> int:
    return (x + page_size - 1) & ~(page_size - 1) & _ulong_mask(bits_per_long)


def _is_aligned(x: int, a: int, bits: int) -> bool:
    return (x & ((a - 1) & _ulong_mask(bits))) == 0


def _fls_long(x: int) -> int:
    return x.bit_length()


def _roundup_pow_of_two(n: int, bits_per_long: int) -> int:
    """``roundup_pow_of_two()`` on a run-time value.

    Undefined for 0 in C; modelled with x86 shift semantics (the count is
    taken modulo the word size), which yields 1.
    """
    return (1 << (_fls_long((n - 1) & _ulong_mask(bits_per_long)) % bits_per_long)) & _ulong_mask(
        bits_per_long
    )


def _rounddown_pow_of_two(n: int) -> int:
    return 1 << (_fls_long(n) - 1)


def pcpu_min_unit_size_for(page_size: int) -> int:
    """``PCPU_MIN_UNIT_SIZE`` for a page size: 32 KiB rounded up to a page."""
    return (32 << 10) + page_size - 1 & ~(page_size - 1)


def _model(rule: str, function: str, detail: str = "") -> PcpuSetupError:
    return PcpuSetupError("model: " + rule, kind=KIND_MODEL, function=function, detail=detail)


def _check_page_size(page_size: Any, function: str) -> None:
    if type(page_size) is not int or page_size <= 0 or page_size & (page_size - 1):
        raise _model("page_size is not a power of two", function, f"page_size={page_size!r}")


def _check_uint(value: Any, name: str, bits: int, function: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _model(f"{name} is not an integer", function, f"{name}={value!r}")
    if value < 0 or value >> bits:
        raise _model(f"{name} does not fit its {bits}-bit unsigned C type", function,
                     f"{name}={value!r}")


def _check_sint(value: Any, name: str, function: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _model(f"{name} is not an integer", function, f"{name}={value!r}")
    if value < INT_MIN or value > INT_MAX:
        raise _model(f"{name} does not fit a C int", function, f"{name}={value!r}")


# ---------------------------------------------------------------------------
# CPU masks
# ---------------------------------------------------------------------------


def _small_cpumask_bits(nr_cpu_ids: int, NR_CPUS: int, bits_per_long: int) -> int:
    """Bound of the cpumask walks (``small_cpumask_bits``)."""
    return NR_CPUS if NR_CPUS <= bits_per_long else nr_cpu_ids


@dataclass(frozen=True)
class CpuEnv:
    """The CPU-related boot globals: the possible mask, nr_cpu_ids, NR_CPUS."""

    possible: frozenset[int]
    nr_cpu_ids: int
    NR_CPUS: int
    bits_per_long: int = BITS_PER_LONG_DEFAULT

    @property
    def walk_bits(self) -> int:
        return _small_cpumask_bits(self.nr_cpu_ids, self.NR_CPUS, self.bits_per_long)

    def for_each_possible_cpu(self) -> list[int]:
        bound = self.walk_bits
        return sorted(c for c in self.possible if c < bound)

    def cpu_possible(self, cpu: int) -> bool:
        return cpu in self.possible

    def num_possible_cpus(self) -> int:
        return len(self.for_each_possible_cpu())

    def cpu_possible_mask_pb(self) -> str:
        """The mask as ``%*pb`` with ``cpumask_pr_args()`` prints it (hex)."""
        return bitmap_string(self.possible, self.nr_cpu_ids)


def bitmap_string(bits: Iterable[int], nr_bits: int) -> str:
    """Port of lib/vsprintf.c: bitmap_string() (the ``%*pb`` format)."""
    value = 0
    for b in bits:
        if 0 <= b < nr_bits:
            value |= 1 << b
    nr_bits = max(nr_bits, 0)
    CHUNKSZ = 32
    chunksz = nr_bits & (CHUNKSZ - 1)
    if chunksz == 0:
        chunksz = CHUNKSZ
    out: list[str] = []
    i = ((nr_bits + CHUNKSZ - 1) // CHUNKSZ) * CHUNKSZ - CHUNKSZ
    while i >= 0:
        val = (value >> i) & ((1 << chunksz) - 1)
        out.append(f"{val:0{(chunksz + 3) // 4}x}")
        chunksz = CHUNKSZ
        i -= CHUNKSZ
    return ",".join(out)


def make_cpu_env(
    possible_cpus: Iterable[int],
    nr_cpu_ids: int | None = None,
    NR_CPUS: int = NR_CPUS_DEFAULT,
    bits_per_long: int = BITS_PER_LONG_DEFAULT,
    function: str = "pcpu_setup_first_chunk",
) -> CpuEnv:
    """Check and bundle the CPU globals; violations raise ``PcpuSetupError`` (model)."""
    if isinstance(NR_CPUS, bool) or not isinstance(NR_CPUS, int) or NR_CPUS < 1:
        raise _model("NR_CPUS must be a positive integer", function, f"NR_CPUS={NR_CPUS!r}")
    try:
        possible = frozenset(possible_cpus)
    except TypeError as exc:
        raise _model("possible_cpus is not an iterable of CPU numbers", function,
                     repr(possible_cpus)) from exc
    for c in possible:
        if isinstance(c, bool) or not isinstance(c, int):
            raise _model("possible CPU is not an integer", function, f"cpu={c!r}")
        if c < 0 or c >= NR_CPUS:
            raise _model("possible CPU outside 0..NR_CPUS-1", function, f"cpu={c}")
    if nr_cpu_ids is None:
        nr_cpu_ids = max(possible) + 1 if possible else 1
    if isinstance(nr_cpu_ids, bool) or not isinstance(nr_cpu_ids, int):
        raise _model("nr_cpu_ids is not an integer", function, f"nr_cpu_ids={nr_cpu_ids!r}")
    if nr_cpu_ids < 1 or nr_cpu_ids > NR_CPUS:
        raise _model("nr_cpu_ids outside 1..NR_CPUS", function,
                     f"nr_cpu_ids={nr_cpu_ids} NR_CPUS={NR_CPUS}")
    return CpuEnv(possible, nr_cpu_ids, NR_CPUS, bits_per_long)


# ---------------------------------------------------------------------------
# Structures
# ---------------------------------------------------------------------------


class CpuMapPtr:
    """An ``unsigned int *`` into the cpu_map array shared by all groups.

    ``pcpu_alloc_alloc_info()`` allocates one array for every unit and
    ``pcpu_build_alloc_info()`` hands each group a pointer into it; this
    class keeps that aliasing.  Indexing is relative to the pointer,
    ``ptr + n`` advances it, and ``len()`` is the number of elements from the
    pointer to the end of the underlying array.
    """

    __slots__ = ("_buf", "_off")

    def __init__(self, buf: list[int], off: int = 0) -> None:
        self._buf = buf
        self._off = off

    @overload
    def __getitem__(self, i: int) -> int: ...
    @overload
    def __getitem__(self, i: slice) -> list[int]: ...
    def __getitem__(self, i: int | slice) -> int | list[int]:
        if isinstance(i, slice):
            return self._buf[self._off :][i]
        if i < 0 or self._off + i >= len(self._buf):
            raise IndexError("cpu_map index out of range")
        return self._buf[self._off + i]

    def __setitem__(self, i: int, value: int) -> None:
        if i < 0 or self._off + i >= len(self._buf):
            raise IndexError("cpu_map index out of range")
        self._buf[self._off + i] = value

    def __add__(self, n: int) -> CpuMapPtr:
        return CpuMapPtr(self._buf, self._off + n)

    def __len__(self) -> int:
        return max(len(self._buf) - self._off, 0)

    def __iter__(self) -> Iterator[int]:
        return iter(self._buf[self._off :])

    def __repr__(self) -> str:
        return f"CpuMapPtr(+{self._off}, {self._buf[self._off:]!r})"


class pcpu_group_info:
    """Port of include/linux/percpu.h: struct pcpu_group_info.

    ``nr_units`` counts the group's units including empty ones (rounded to a
    whole number of allocations); ``base_offset`` is the group's distance
    from the chunk base; ``cpu_map[i]`` is the CPU of unit ``i`` or
    ``NR_CPUS`` for an empty unit (``None`` plays the NULL pointer).
    """

    __slots__ = ("nr_units", "base_offset", "cpu_map")

    def __init__(
        self,
        nr_units: int = 0,
        base_offset: int = 0,
        cpu_map: CpuMapPtr | Sequence[int] | None = None,
    ) -> None:
        self.nr_units = nr_units
        self.base_offset = base_offset
        self.cpu_map = cpu_map

    def units(self) -> list[int]:
        """The first ``nr_units`` cpu_map entries as a plain list."""
        if self.cpu_map is None or self.nr_units <= 0:
            return []
        return [self.cpu_map[i] for i in range(min(self.nr_units, len(self.cpu_map)))]

    def __repr__(self) -> str:
        return (
            f"pcpu_group_info(nr_units={self.nr_units}, base_offset={self.base_offset:#x}, "
            f"cpu_map={self.units()!r})"
        )


class pcpu_alloc_info:
    """Port of include/linux/percpu.h: struct pcpu_alloc_info.

    Sizes are bytes.  The kernel's internal ``__ai_size`` field is spelled
    ``_ai_size`` (a leading double underscore would be name-mangled).
    ``groups`` holds ``nr_groups`` :class:`pcpu_group_info` entries.
    """

    __slots__ = (
        "static_size",
        "reserved_size",
        "dyn_size",
        "unit_size",
        "atom_size",
        "alloc_size",
        "_ai_size",
        "nr_groups",
        "groups",
    )

    def __init__(
        self,
        static_size: int = 0,
        reserved_size: int = 0,
        dyn_size: int = 0,
        unit_size: int = 0,
        atom_size: int = 0,
        alloc_size: int = 0,
        nr_groups: int = 0,
        groups: list[pcpu_group_info] | None = None,
        _ai_size: int = 0,
    ) -> None:
        self.static_size = static_size
        self.reserved_size = reserved_size
        self.dyn_size = dyn_size
        self.unit_size = unit_size
        self.atom_size = atom_size
        self.alloc_size = alloc_size
        self._ai_size = _ai_size
        self.nr_groups = nr_groups
        self.groups: list[pcpu_group_info] = groups if groups is not None else []

    def __repr__(self) -> str:
        return (
            f"pcpu_alloc_info(static_size={self.static_size}, "
            f"reserved_size={self.reserved_size}, dyn_size={self.dyn_size}, "
            f"unit_size={self.unit_size}, atom_size={self.atom_size}, "
            f"alloc_size={self.alloc_size}, nr_groups={self.nr_groups}, "
            f"groups={self.groups!r})"
        )


# CamelCase aliases for callers that prefer them.
PcpuGroupInfo = pcpu_group_info
PcpuAllocInfo = pcpu_alloc_info

CpuDistanceFn = Callable[[int, int], int]


def _struct_sizes(bits_per_long: int) -> tuple[int, int]:
    """sizeof(struct pcpu_alloc_info) and sizeof(struct pcpu_group_info)."""
    ul = bits_per_long // 8
    ai = 7 * ul + 4
    ai = (ai + ul - 1) // ul * ul
    gi = ul + ul + ul  # int padded to long, unsigned long, pointer
    return ai, gi


# ---------------------------------------------------------------------------
# pcpu_alloc_alloc_info / pcpu_dump_alloc_info
# ---------------------------------------------------------------------------


def pcpu_alloc_alloc_info(
    nr_groups: int,
    nr_units: int,
    *,
    NR_CPUS: int = NR_CPUS_DEFAULT,
    page_size: int = PAGE_SIZE_DEFAULT,
    bits_per_long: int = BITS_PER_LONG_DEFAULT,
) -> pcpu_alloc_info | None:
    """Port of mm/percpu.c: pcpu_alloc_alloc_info().

    Returns a zeroed info with ``nr_groups`` groups.  Only group 0 gets a
    cpu_map: a pointer to an array of ``nr_units`` entries, all ``NR_CPUS``;
    the other groups' cpu_map stays NULL (``None``) until the caller points
    them into that array.  ``_ai_size`` is the page-rounded byte size of the
    kernel allocation.  The bootmem allocation cannot fail in the model
    except for negative counts, which the kernel turns into an impossible
    size (``None``, the NULL return).
    """
    if nr_groups < 0 or nr_units < 0:
        return None

    ai_struct, gi_struct = _struct_sizes(bits_per_long)
    base_size = ai_struct + nr_groups * gi_struct
    base_size = (base_size + 4 - 1) & ~(4 - 1)  # alignment of unsigned int
    ai_size = base_size + nr_units * 4

    ai = pcpu_alloc_info(groups=[pcpu_group_info() for _ in range(nr_groups)])
    ptr = CpuMapPtr([0] * nr_units)

    if nr_groups > 0:
        ai.groups[0].cpu_map = ptr
    for unit in range(nr_units):
        ptr[unit] = NR_CPUS

    ai.nr_groups = nr_groups
    ai._ai_size = _pfn_align(ai_size, page_size, bits_per_long)

    return ai


def pcpu_free_alloc_info(ai: pcpu_alloc_info | None) -> None:
    """Port of mm/percpu.c: pcpu_free_alloc_info() (nothing to release here)."""
    return None


def pcpu_dump_alloc_info(
    lvl: str,
    ai: pcpu_alloc_info,
    *,
    possible_cpus: Iterable[int] | CpuEnv,
    nr_cpu_ids: int | None = None,
    NR_CPUS: int = NR_CPUS_DEFAULT,
) -> list[str]:
    """Port of mm/percpu.c: pcpu_dump_alloc_info().

    Returns the console text as lines, without the log-level marker ``lvl``
    (e.g. ``"KERN_DEBUG"``), which only selects the level.  The first line
    carries the sizes; then each output line lists up to ``apl`` allocations
    as ``[group] cpu cpu ...``, an empty unit shown as dashes; lines keep
    the trailing space the kernel leaves.  Raises :class:`PcpuSetupError`
    for the function's BUG_ON, for its divisions by zero (``unit_size`` or
    ``atom_size`` of 0, or ``alloc_size < unit_size``), and for
    ``groups``/``cpu_map`` arrays too short for the counts.
    """
    fn = "pcpu_dump_alloc_info"
    env = (
        possible_cpus
        if isinstance(possible_cpus, CpuEnv)
        else make_cpu_env(possible_cpus, nr_cpu_ids, NR_CPUS, function=fn)
    )
    NR_CPUS = env.NR_CPUS
    lines: list[str] = []
    cur = ""

    group_width = 1
    cpu_width = 1
    empty_str = "--------"
    alloc = 0
    alloc_end = 0

    v = ai.nr_groups
    v = _cdiv(v, 10)
    while v:
        group_width += 1
        v = _cdiv(v, 10)

    v = env.num_possible_cpus()
    v = _cdiv(v, 10)
    while v:
        cpu_width += 1
        v = _cdiv(v, 10)
    empty_str = empty_str[: min(cpu_width, len(empty_str))]

    if ai.unit_size == 0:
        raise PcpuSetupError("ai->alloc_size / ai->unit_size", kind=KIND_DIVIDE_ERROR,
                             function=fn, detail="unit_size=0")
    upa = _to_int(ai.alloc_size // ai.unit_size)
    width = upa * (cpu_width + 1) + group_width + 3
    if width == 0:
        raise PcpuSetupError("60 / width", kind=KIND_DIVIDE_ERROR, function=fn,
                             detail=f"upa={upa}")
    apl = _rounddown_pow_of_two(max(_cdiv(60, width), 1))

    if ai.atom_size == 0:
        raise PcpuSetupError("ai->alloc_size / ai->atom_size", kind=KIND_DIVIDE_ERROR,
                             function=fn, detail="atom_size=0")
    cur = (
        f"pcpu-alloc: s{ai.static_size} r{ai.reserved_size} d{ai.dyn_size} "
        f"u{ai.unit_size} alloc={ai.alloc_size // ai.atom_size}*{ai.atom_size}"
    )

    for group in range(ai.nr_groups):
        if group >= len(ai.groups):
            raise _model("ai->groups[] shorter than ai->nr_groups", fn, f"group={group}")
        gi = ai.groups[group]
        unit = 0
        unit_end = 0

        if upa == 0:
            raise PcpuSetupError("gi->nr_units % upa", kind=KIND_DIVIDE_ERROR, function=fn,
                                 detail=f"upa=0 alloc_size={ai.alloc_size} "
                                 f"unit_size={ai.unit_size}", log=lines + [cur])
        if gi.nr_units - _cdiv(gi.nr_units, upa) * upa:
            raise PcpuSetupError(R_DUMP_NR_UNITS, kind=KIND_BUG_ON, function=fn,
                                 detail=f"group={group} nr_units={gi.nr_units} upa={upa}",
                                 log=lines + [cur])
        alloc_end += _cdiv(gi.nr_units, upa)
        while alloc < alloc_end:
            if not (alloc % apl):
                lines.append(cur)
                cur = "pcpu-alloc: "
            cur += f"[{group:0{group_width}d}] "

            unit_end += upa
            while unit < unit_end:
                if gi.cpu_map is None or unit >= len(gi.cpu_map):
                    raise _model("gi->cpu_map shorter than gi->nr_units", fn,
                                 f"group={group} unit={unit}")
                c = gi.cpu_map[unit]
                if c != NR_CPUS:
                    cur += f"{_to_int(c):0{cpu_width}d} "
                else:
                    cur += f"{empty_str} "
                unit += 1
            alloc += 1
    lines.append(cur)
    return lines


# ---------------------------------------------------------------------------
# pcpu_build_alloc_info
# ---------------------------------------------------------------------------


def pcpu_build_alloc_info(
    reserved_size: int,
    dyn_size: int,
    atom_size: int,
    cpu_distance_fn: CpuDistanceFn | None,
    *,
    static_size: int,
    possible_cpus: Iterable[int],
    nr_cpu_ids: int | None = None,
    NR_CPUS: int = NR_CPUS_DEFAULT,
    page_size: int = PAGE_SIZE_DEFAULT,
    PCPU_MIN_UNIT_SIZE: int | None = None,
    PERCPU_DYNAMIC_EARLY_SIZE: int = PERCPU_DYNAMIC_EARLY_SIZE,
    bits_per_long: int = BITS_PER_LONG_DEFAULT,
) -> pcpu_alloc_info:
    """Port of mm/percpu.c: pcpu_build_alloc_info().

    ``static_size`` stands for ``__per_cpu_end - __per_cpu_start``.  CPUs
    are grouped greedily: each group starts at the lowest CPU not yet
    grouped and takes every later ungrouped CPU at exactly
    ``LOCAL_DISTANCE`` in both directions (all CPUs when ``cpu_distance_fn``
    is None).  The unit size is the allocation size divided by the chosen
    units-per-allocation, the largest that wastes at most a third of the
    possible-CPU count in empty units without needing more allocations than
    a smaller one.  Group base offsets are provisional (groups back to back).

    ``PCPU_MIN_UNIT_SIZE`` defaults to 32 KiB rounded up to a page.  Raises
    :class:`PcpuSetupError` for the BUG_ONs and the divisions by zero
    (``atom_size`` of 0, or no page-aligned unit size dividing the
    allocation size), and for out-of-range arguments.
    """
    fn = "pcpu_build_alloc_info"
    _check_page_size(page_size, fn)
    env = make_cpu_env(possible_cpus, nr_cpu_ids, NR_CPUS, bits_per_long, function=fn)
    NR_CPUS = env.NR_CPUS
    for name, val in (
        ("reserved_size", reserved_size),
        ("dyn_size", dyn_size),
        ("atom_size", atom_size),
        ("static_size", static_size),
        ("PERCPU_DYNAMIC_EARLY_SIZE", PERCPU_DYNAMIC_EARLY_SIZE),
    ):
        _check_uint(val, name, bits_per_long, fn)
    if PCPU_MIN_UNIT_SIZE is None:
        PCPU_MIN_UNIT_SIZE = pcpu_min_unit_size_for(page_size)
    _check_uint(PCPU_MIN_UNIT_SIZE, "PCPU_MIN_UNIT_SIZE", bits_per_long, fn)
    mask = _ulong_mask(bits_per_long)

    group_map = [0] * NR_CPUS
    group_cnt = [0] * NR_CPUS
    nr_groups = 1
    nr_units = 0

    # page-rounded total; dyn_size absorbs the rounding and the early minimum
    size_sum = _pfn_align(
        static_size + reserved_size + max(dyn_size, PERCPU_DYNAMIC_EARLY_SIZE),
        page_size,
        bits_per_long,
    )
    dyn_size = (size_sum - static_size - reserved_size) & mask

    min_unit_size = max(size_sum, PCPU_MIN_UNIT_SIZE)

    # largest upa whose unit size is a whole number of pages
    if atom_size == 0:
        raise PcpuSetupError("roundup(min_unit_size, atom_size)", kind=KIND_DIVIDE_ERROR,
                             function=fn, detail="atom_size=0")
    alloc_size = (((min_unit_size + atom_size - 1) & mask) // atom_size * atom_size) & mask
    if min_unit_size == 0:
        raise PcpuSetupError("alloc_size / min_unit_size", kind=KIND_DIVIDE_ERROR,
                             function=fn, detail="min_unit_size=0")
    upa = alloc_size // min_unit_size
    if upa > INT_MAX:
        raise _model("alloc_size / min_unit_size does not fit the int upa", fn,
                     f"alloc_size={alloc_size} min_unit_size={min_unit_size}")
    while True:
        if upa == 0:
            raise PcpuSetupError("alloc_size % upa", kind=KIND_DIVIDE_ERROR, function=fn,
                                 detail=f"no page-aligned unit size divides "
                                 f"alloc_size={alloc_size}")
        if not (alloc_size % upa or _offset_in_page(alloc_size // upa, page_size)):
            break
        upa -= 1
    max_upa = upa

    mask_cpus = set(env.for_each_possible_cpu())

    # greedy grouping by distance
    group = 0
    while mask_cpus:
        cpu = min(mask_cpus)
        group_map[cpu] = group
        group_cnt[group] += 1
        mask_cpus.discard(cpu)

        for tcpu in sorted(mask_cpus):
            if not cpu_distance_fn or (
                cpu_distance_fn(cpu, tcpu) == LOCAL_DISTANCE
                and cpu_distance_fn(tcpu, cpu) == LOCAL_DISTANCE
            ):
                group_map[tcpu] = group
                group_cnt[group] += 1
                mask_cpus.discard(tcpu)
        group += 1
    nr_groups = group

    # pick upa: at most 1/3 wasted units, and no more allocations than needed
    last_allocs = INT_MAX
    best_upa = 0
    for upa in range(max_upa, 0, -1):
        allocs = 0
        wasted = 0

        if alloc_size % upa or _offset_in_page(alloc_size // upa, page_size):
            continue

        for group in range(nr_groups):
            this_allocs = -(-group_cnt[group] // upa)
            allocs += this_allocs
            wasted += this_allocs * upa - group_cnt[group]

        if wasted > env.num_possible_cpus() // 3:
            continue

        if allocs > last_allocs:
            break
        last_allocs = allocs
        best_upa = upa
    if not best_upa:
        raise PcpuSetupError(R_BUILD_BEST_UPA, kind=KIND_BUG_ON, function=fn)
    upa = best_upa

    # size the info, then point each group into the shared cpu_map
    for group in range(nr_groups):
        nr_units += -(-group_cnt[group] // upa) * upa

    ai = pcpu_alloc_alloc_info(nr_groups, nr_units, NR_CPUS=NR_CPUS, page_size=page_size,
                               bits_per_long=bits_per_long)
    if ai is None:  # pragma: no cover - counts are never negative here
        raise _model("pcpu_alloc_alloc_info() failed", fn)
    cpu_map = ai.groups[0].cpu_map if nr_groups else CpuMapPtr([])
    assert isinstance(cpu_map, CpuMapPtr)

    for group in range(nr_groups):
        ai.groups[group].cpu_map = cpu_map
        cpu_map += -(-group_cnt[group] // upa) * upa

    ai.static_size = static_size
    ai.reserved_size = reserved_size
    ai.dyn_size = dyn_size
    ai.unit_size = alloc_size // upa
    ai.atom_size = atom_size
    ai.alloc_size = alloc_size

    unit = 0
    for group in range(nr_groups):
        gi = ai.groups[group]

        # provisional offset: groups laid out back to back
        gi.base_offset = (unit * ai.unit_size) & mask

        gcm = gi.cpu_map
        assert isinstance(gcm, CpuMapPtr)
        for cpu in env.for_each_possible_cpu():
            if group_map[cpu] == group:
                gcm[gi.nr_units] = cpu
                gi.nr_units += 1
        gi.nr_units = -(-gi.nr_units // upa) * upa
        unit += gi.nr_units
    if unit != nr_units:
        raise PcpuSetupError(R_BUILD_NR_UNITS, kind=KIND_BUG_ON, function=fn,
                             detail=f"unit={unit} nr_units={nr_units}")

    return ai


# ---------------------------------------------------------------------------
# pcpu_verify_alloc_info (percpu-km.c / percpu-vm.c)
# ---------------------------------------------------------------------------


def pcpu_verify_alloc_info_km(
    ai: pcpu_alloc_info,
    *,
    page_size: int = PAGE_SIZE_DEFAULT,
    bits_per_long: int = BITS_PER_LONG_DEFAULT,
    log: list[str] | None = None,
) -> int:
    """Port of mm/percpu-km.c: pcpu_verify_alloc_info().

    The contiguous (km) back end supports a single group only: any other
    ``nr_groups`` gives ``-EINVAL``.  A chunk is one ``alloc_pages()`` block,
    so when the group's page count is not a power of two the rounding-up
    is wasted; that is only reported (appended to ``log``), never an error.
    """
    fn = "pcpu_verify_alloc_info"
    if log is None:
        log = []

    # one contiguous block per chunk: only a single group fits
    if ai.nr_groups != 1:
        log.append("percpu: can't handle more than one group")
        return -EINVAL

    gi = _group_at(ai, 0, bits_per_long, fn)
    PAGE_SHIFT = page_size.bit_length() - 1
    mask = _ulong_mask(bits_per_long)
    nr_pages = ((gi.nr_units * ai.unit_size) & mask) >> PAGE_SHIFT
    alloc_pages = _roundup_pow_of_two(nr_pages, bits_per_long)

    if alloc_pages > nr_pages:
        log.append(f"percpu: wasting {alloc_pages - nr_pages} pages per chunk")

    return 0


def pcpu_verify_alloc_info_vm(ai: pcpu_alloc_info, **_: Any) -> int:
    """Port of mm/percpu-vm.c: pcpu_verify_alloc_info() (accepts everything)."""
    return 0


def pcpu_verify_alloc_info(
    ai: pcpu_alloc_info,
    backend: str = "vm",
    *,
    page_size: int = PAGE_SIZE_DEFAULT,
    bits_per_long: int = BITS_PER_LONG_DEFAULT,
    log: list[str] | None = None,
) -> int:
    """Back-end dispatch for pcpu_verify_alloc_info() (``"vm"`` or ``"km"``)."""
    if backend == "km":
        return pcpu_verify_alloc_info_km(ai, page_size=page_size, bits_per_long=bits_per_long,
                                         log=log)
    if backend == "vm":
        return pcpu_verify_alloc_info_vm(ai)
    raise _model("backend is neither 'vm' nor 'km'", "pcpu_verify_alloc_info",
                 f"backend={backend!r}")


# ---------------------------------------------------------------------------
# pcpu_setup_first_chunk: sanity checks and unit tables
# ---------------------------------------------------------------------------


@dataclass
class FirstChunkTables:
    """What pcpu_setup_first_chunk() derives from ``ai`` before building chunks.

    ``unit_map[cpu]`` is the CPU's global unit number (``UINT_MAX`` for CPUs
    without a unit, i.e. not possible); ``unit_off[cpu]`` is the unit's byte
    offset from the chunk base.  ``dump`` holds the KERN_DEBUG dump lines
    and ``log`` the warnings printed on the way (km back end).
    """

    pcpu_nr_groups: int
    pcpu_group_offsets: list[int]
    pcpu_group_sizes: list[int]
    pcpu_unit_map: list[int]
    pcpu_unit_offsets: list[int]
    pcpu_nr_units: int
    pcpu_low_unit_cpu: int
    pcpu_high_unit_cpu: int
    pcpu_unit_pages: int
    pcpu_unit_size: int
    pcpu_atom_size: int
    dump: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


_AI_SIZE_FIELDS = ("static_size", "reserved_size", "dyn_size", "unit_size", "atom_size",
                   "alloc_size")


def _check_ai_shape(ai: Any, bits_per_long: int, fn: str) -> None:
    if not isinstance(ai, pcpu_alloc_info):
        raise _model("ai is not a pcpu_alloc_info", fn, f"type={type(ai).__name__}")
    for name in _AI_SIZE_FIELDS:
        _check_uint(getattr(ai, name, None), "ai->" + name, bits_per_long, fn)
    _check_sint(ai.nr_groups, "ai->nr_groups", fn)
    if not isinstance(ai.groups, Sequence):
        raise _model("ai->groups is not a sequence", fn)


def _group_at(ai: pcpu_alloc_info, group: int, bits_per_long: int, fn: str) -> pcpu_group_info:
    if group >= len(ai.groups):
        raise _model("ai->groups[] shorter than ai->nr_groups", fn, f"group={group}")
    gi = ai.groups[group]
    if not isinstance(gi, pcpu_group_info):
        raise _model("ai->groups[] entry is not a pcpu_group_info", fn, f"group={group}")
    _check_sint(gi.nr_units, f"ai->groups[{group}].nr_units", fn)
    _check_uint(gi.base_offset, f"ai->groups[{group}].base_offset", bits_per_long, fn)
    return gi


def _cpu_map_at(gi: pcpu_group_info, group: int, i: int, fn: str) -> int:
    cm = gi.cpu_map
    if cm is None:
        raise _model("gi->cpu_map is NULL", fn, f"group={group}")
    try:
        n = len(cm)
    except TypeError as exc:
        raise _model("gi->cpu_map is not a sequence", fn, f"group={group}") from exc
    if i >= n:
        raise _model("gi->cpu_map shorter than gi->nr_units", fn, f"group={group} unit={i}")
    cpu = cm[i]
    _check_uint(cpu, f"ai->groups[{group}].cpu_map[{i}]", 32, fn)
    return cpu


def pcpu_setup_first_chunk_checks(
    ai: pcpu_alloc_info,
    base_addr: int | None,
    possible_cpus: Iterable[int],
    nr_cpu_ids: int | None = None,
    page_size: int = PAGE_SIZE_DEFAULT,
    backend: str = "vm",
    *,
    NR_CPUS: int = NR_CPUS_DEFAULT,
    PCPU_MIN_UNIT_SIZE: int | None = None,
    PERCPU_DYNAMIC_EARLY_SIZE: int = PERCPU_DYNAMIC_EARLY_SIZE,
    PCPU_BITMAP_BLOCK_SIZE: int | None = None,
    per_cpu_start: int = 0,
    config_smp: bool = True,
    bits_per_long: int = BITS_PER_LONG_DEFAULT,
) -> FirstChunkTables:
    """Port of mm/percpu.c: pcpu_setup_first_chunk(), up to the unit tables.

    Performs every ``PCPU_SETUP_BUG_ON`` in kernel order and raises
    :class:`PcpuSetupError` naming the first one that holds; its ``log``
    holds the emergency messages (condition, possible mask in ``%*pb``
    form, allocation dump).  On success returns the group and unit tables
    and runs the KERN_DEBUG dump, whose own BUG_ON and divisions (on
    ``alloc_size``/``atom_size``, which no sanity check covers) can still
    raise.  ``base_addr`` None is the NULL pointer; ``per_cpu_start`` is the
    address of ``__per_cpu_start`` (only its page offset matters);
    ``PCPU_BITMAP_BLOCK_SIZE`` defaults to the page size, as in the kernel;
    ``config_smp=False`` drops the two SMP-only checks.  Chunk creation,
    which follows in the kernel, is not done here.
    """
    fn = "pcpu_setup_first_chunk"
    try:
        return _pcpu_setup_first_chunk_checks(
            ai, base_addr, possible_cpus, nr_cpu_ids, page_size, backend,
            NR_CPUS=NR_CPUS, PCPU_MIN_UNIT_SIZE=PCPU_MIN_UNIT_SIZE,
            PERCPU_DYNAMIC_EARLY_SIZE=PERCPU_DYNAMIC_EARLY_SIZE,
            PCPU_BITMAP_BLOCK_SIZE=PCPU_BITMAP_BLOCK_SIZE, per_cpu_start=per_cpu_start,
            config_smp=config_smp, bits_per_long=bits_per_long,
        )
    except PcpuSetupError:
        raise
    except Exception as exc:  # last line of defence: never leak another exception
        raise PcpuSetupError(R_MODEL_UNEXPECTED, kind=KIND_MODEL, function=fn,
                             detail=f"{type(exc).__name__}: {exc}") from exc


def _pcpu_setup_first_chunk_checks(
    ai: pcpu_alloc_info,
    base_addr: int | None,
    possible_cpus: Iterable[int],
    nr_cpu_ids: int | None,
    page_size: int,
    backend: str,
    *,
    NR_CPUS: int,
    PCPU_MIN_UNIT_SIZE: int | None,
    PERCPU_DYNAMIC_EARLY_SIZE: int,
    PCPU_BITMAP_BLOCK_SIZE: int | None,
    per_cpu_start: int,
    config_smp: bool,
    bits_per_long: int,
) -> FirstChunkTables:
    fn = "pcpu_setup_first_chunk"
    _check_page_size(page_size, fn)
    env = make_cpu_env(possible_cpus, nr_cpu_ids, NR_CPUS, bits_per_long, function=fn)
    nr_cpu_ids = env.nr_cpu_ids
    NR_CPUS = env.NR_CPUS
    _check_ai_shape(ai, bits_per_long, fn)
    if base_addr is None:
        base_addr = 0
    _check_uint(base_addr, "base_addr", bits_per_long, fn)
    _check_uint(per_cpu_start, "__per_cpu_start", bits_per_long, fn)
    if PCPU_MIN_UNIT_SIZE is None:
        PCPU_MIN_UNIT_SIZE = pcpu_min_unit_size_for(page_size)
    if PCPU_BITMAP_BLOCK_SIZE is None:
        PCPU_BITMAP_BLOCK_SIZE = page_size
    _check_uint(PCPU_MIN_UNIT_SIZE, "PCPU_MIN_UNIT_SIZE", bits_per_long, fn)
    _check_uint(PERCPU_DYNAMIC_EARLY_SIZE, "PERCPU_DYNAMIC_EARLY_SIZE", bits_per_long, fn)
    _check_uint(PCPU_BITMAP_BLOCK_SIZE, "PCPU_BITMAP_BLOCK_SIZE", bits_per_long, fn)
    mask = _ulong_mask(bits_per_long)
    PAGE_SHIFT = page_size.bit_length() - 1
    log: list[str] = []

    size_sum = (ai.static_size + ai.reserved_size + ai.dyn_size) & mask

    def PCPU_SETUP_BUG_ON(cond: bool, rule: str, detail: str = "") -> None:
        if not cond:
            return
        emerg = [
            f"percpu: failed to initialize, {rule}",
            f"percpu: cpu_possible_mask={env.cpu_possible_mask_pb()}",
        ]
        try:
            emerg += pcpu_dump_alloc_info("KERN_EMERG", ai, possible_cpus=env)
        except PcpuSetupError as exc:
            emerg += exc.log
            emerg.append(f"(pcpu_dump_alloc_info stops: {exc.kind}({exc.rule}))")
        except Exception as exc:  # malformed input the dump cannot walk
            emerg.append(f"(pcpu_dump_alloc_info stops: {type(exc).__name__})")
        raise PcpuSetupError(rule, kind=KIND_SETUP_BUG_ON, function=fn, detail=detail,
                             log=log + emerg)

    # PCPU_SETUP_BUG_ON list, kernel order
    PCPU_SETUP_BUG_ON(ai.nr_groups <= 0, R_NR_GROUPS, f"nr_groups={ai.nr_groups}")
    if config_smp:
        PCPU_SETUP_BUG_ON(not ai.static_size, R_STATIC_SIZE)
        PCPU_SETUP_BUG_ON(bool(_offset_in_page(per_cpu_start, page_size)), R_PER_CPU_START,
                          f"__per_cpu_start={per_cpu_start:#x}")
    PCPU_SETUP_BUG_ON(not base_addr, R_BASE_ADDR_NULL)
    PCPU_SETUP_BUG_ON(bool(_offset_in_page(base_addr, page_size)), R_BASE_ADDR_ALIGN,
                      f"base_addr={base_addr:#x}")
    PCPU_SETUP_BUG_ON(ai.unit_size < size_sum, R_UNIT_SIZE_SUM,
                      f"unit_size={ai.unit_size} size_sum={size_sum}")
    PCPU_SETUP_BUG_ON(bool(_offset_in_page(ai.unit_size, page_size)), R_UNIT_SIZE_PAGE,
                      f"unit_size={ai.unit_size}")
    PCPU_SETUP_BUG_ON(ai.unit_size < PCPU_MIN_UNIT_SIZE, R_UNIT_SIZE_MIN,
                      f"unit_size={ai.unit_size} PCPU_MIN_UNIT_SIZE={PCPU_MIN_UNIT_SIZE}")
    PCPU_SETUP_BUG_ON(not _is_aligned(ai.unit_size, PCPU_BITMAP_BLOCK_SIZE, bits_per_long),
                      R_UNIT_SIZE_BLOCK, f"unit_size={ai.unit_size}")
    PCPU_SETUP_BUG_ON(ai.dyn_size < PERCPU_DYNAMIC_EARLY_SIZE, R_DYN_SIZE,
                      f"dyn_size={ai.dyn_size} "
                      f"PERCPU_DYNAMIC_EARLY_SIZE={PERCPU_DYNAMIC_EARLY_SIZE}")
    PCPU_SETUP_BUG_ON(not _is_aligned(ai.reserved_size, PCPU_MIN_ALLOC_SIZE, bits_per_long),
                      R_RESERVED_ALIGN, f"reserved_size={ai.reserved_size}")
    PCPU_SETUP_BUG_ON(
        not (
            _is_aligned(PCPU_BITMAP_BLOCK_SIZE, page_size, bits_per_long)
            or _is_aligned(page_size, PCPU_BITMAP_BLOCK_SIZE, bits_per_long)
        ),
        R_BLOCK_VS_PAGE,
        f"PCPU_BITMAP_BLOCK_SIZE={PCPU_BITMAP_BLOCK_SIZE} PAGE_SIZE={page_size}",
    )
    PCPU_SETUP_BUG_ON(
        pcpu_verify_alloc_info(ai, backend, page_size=page_size, bits_per_long=bits_per_long,
                               log=log) < 0,
        R_VERIFY,
        f"backend={backend}",
    )

    # group information and the cpu -> unit tables
    group_offsets: list[int] = []  # grown per group (nr_groups may be absurd)
    group_sizes: list[int] = []
    unit_map = [0] * nr_cpu_ids
    unit_off = [0] * nr_cpu_ids

    for cpu in range(nr_cpu_ids):
        unit_map[cpu] = UINT_MAX

    pcpu_low_unit_cpu = NR_CPUS
    pcpu_high_unit_cpu = NR_CPUS

    unit = 0
    for group in range(ai.nr_groups):
        gi = _group_at(ai, group, bits_per_long, fn)

        group_offsets.append(gi.base_offset)
        group_sizes.append((gi.nr_units * ai.unit_size) & mask)

        i = 0
        while i < gi.nr_units:
            cpu = _cpu_map_at(gi, group, i, fn)
            if cpu == NR_CPUS:
                i += 1
                continue

            where = f"cpu={cpu} group={group} unit={i}"
            PCPU_SETUP_BUG_ON(cpu >= nr_cpu_ids, R_CPU_NR_CPU_IDS,
                              f"{where} nr_cpu_ids={nr_cpu_ids}")
            PCPU_SETUP_BUG_ON(not env.cpu_possible(cpu), R_CPU_POSSIBLE, where)
            PCPU_SETUP_BUG_ON(unit_map[cpu] != UINT_MAX, R_CPU_DUPLICATE,
                              f"{where} first unit={unit_map[cpu]}")

            unit_map[cpu] = (unit + i) & UINT_MAX
            unit_off[cpu] = (gi.base_offset + i * ai.unit_size) & mask

            # lowest and highest unit offsets
            if pcpu_low_unit_cpu == NR_CPUS or unit_off[cpu] < unit_off[pcpu_low_unit_cpu]:
                pcpu_low_unit_cpu = cpu
            if pcpu_high_unit_cpu == NR_CPUS or unit_off[cpu] > unit_off[pcpu_high_unit_cpu]:
                pcpu_high_unit_cpu = cpu
            i += 1
        unit += i
    pcpu_nr_units = unit

    for cpu in env.for_each_possible_cpu():
        PCPU_SETUP_BUG_ON(unit_map[cpu] == UINT_MAX, R_CPU_UNMAPPED, f"cpu={cpu}")

    dump = pcpu_dump_alloc_info("KERN_DEBUG", ai, possible_cpus=env)

    pcpu_unit_pages = ai.unit_size >> PAGE_SHIFT
    return FirstChunkTables(
        pcpu_nr_groups=ai.nr_groups,
        pcpu_group_offsets=group_offsets,
        pcpu_group_sizes=group_sizes,
        pcpu_unit_map=unit_map,
        pcpu_unit_offsets=unit_off,
        pcpu_nr_units=pcpu_nr_units,
        pcpu_low_unit_cpu=pcpu_low_unit_cpu,
        pcpu_high_unit_cpu=pcpu_high_unit_cpu,
        pcpu_unit_pages=pcpu_unit_pages,
        pcpu_unit_size=pcpu_unit_pages << PAGE_SHIFT,
        pcpu_atom_size=ai.atom_size,
        dump=dump,
        log=log,
    )
