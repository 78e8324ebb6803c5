"""Booting a ported allocator from a configuration.

A configuration names what a real machine fixes at boot: the possible CPUs,
their NUMA distances, the static, reserved and dynamic sizes, the atom size,
the page size and the backend.  :func:`boot` runs the kernel's own set-up
path (pcpu_build_alloc_info, then pcpu_setup_first_chunk) on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from impl.alloc_info import pcpu_build_alloc_info
from impl.internal import Geometry
from impl.percpu import Percpu

LOCAL_DISTANCE = 10
REMOTE_DISTANCE = 20


@dataclass(frozen=True)
class PcpuConfig:
    """Everything that fixes one boot of the allocator."""

    page_size: int = 4096
    possible_cpus: tuple[int, ...] = (0, 1, 2, 3)
    nr_cpu_ids: int | None = None
    # node of each possible CPU; CPUs on one node are LOCAL_DISTANCE apart
    cpu_nodes: tuple[int, ...] | None = None
    static_size: int = 233472
    reserved_size: int = 8192
    dyn_size: int = 28672
    atom_size: int = 2 << 20
    backend: str = "vm"
    min_unit_size: int = 32 << 10
    dynamic_early_size: int = 20 << 10
    base_addr: int = 0xFFFF88ACBEC00000
    extra: dict[str, int] = field(default_factory=dict, compare=False, hash=False)

    def geometry(self) -> Geometry:
        return Geometry(self.page_size, self.min_unit_size, self.dynamic_early_size)

    def cpu_distance(self, a: int, b: int) -> int:
        """The distance function the kernel's grouping asks about."""
        if self.cpu_nodes is None:
            return LOCAL_DISTANCE
        na = self.cpu_nodes[self.possible_cpus.index(a)]
        nb = self.cpu_nodes[self.possible_cpus.index(b)]
        return LOCAL_DISTANCE if na == nb else REMOTE_DISTANCE

    def describe(self) -> str:
        return (
            f"page_size={self.page_size} cpus={list(self.possible_cpus)} "
            f"s{self.static_size} r{self.reserved_size} d{self.dyn_size} "
            f"atom={self.atom_size} backend={self.backend}"
        )


def small_config(block_bits: int = 16, **kw: object) -> PcpuConfig:
    """A scaled-down machine whose blocks hold ``block_bits`` bits.

    PCPU_MIN_UNIT_SIZE and PERCPU_DYNAMIC_EARLY_SIZE shrink with the page so
    that a chunk has a handful of blocks (see impl/DIVERGENCES.md).  The
    static size is deliberately not page aligned, so the first and reserved
    chunks have hidden start and end offsets.
    """
    page_size = block_bits * 4
    base: dict[str, object] = dict(
        page_size=page_size,
        possible_cpus=(0, 1),
        static_size=page_size + page_size // 2 + 4,
        reserved_size=page_size,
        dyn_size=3 * page_size,
        atom_size=page_size,
        min_unit_size=8 * page_size,
        dynamic_early_size=page_size,
        base_addr=0xFFFF888100000000,
    )
    base.update(kw)
    return PcpuConfig(**base)  # type: ignore[arg-type]


def boot(cfg: PcpuConfig, cls: type[Percpu] = Percpu) -> Percpu:
    """Boots a :class:`Percpu` (or the subclass ``cls``) from ``cfg`` through the kernel's set-up code."""
    geo = cfg.geometry()
    pcpu = cls(geo, list(cfg.possible_cpus), cfg.nr_cpu_ids, cfg.backend)
    ai = pcpu_build_alloc_info(
        cfg.reserved_size,
        cfg.dyn_size,
        cfg.atom_size,
        cfg.cpu_distance,
        static_size=cfg.static_size,
        possible_cpus=list(cfg.possible_cpus),
        nr_cpu_ids=pcpu.nr_cpu_ids,
        page_size=cfg.page_size,
        PCPU_MIN_UNIT_SIZE=cfg.min_unit_size,
        PERCPU_DYNAMIC_EARLY_SIZE=cfg.dynamic_early_size,
    )
    pcpu.pcpu_setup_first_chunk(ai, cfg.base_addr)
    pcpu.map_first_chunk_memory(ai, cfg.base_addr)
    return pcpu
