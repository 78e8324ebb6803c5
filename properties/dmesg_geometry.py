"""The first chunk's geometry from a boot log's percpu lines.

pcpu_dump_alloc_info() and pcpu_embed_first_chunk() print, e.g.::

    setup_percpu: NR_CPUS:8192 nr_cpumask_bits:4 nr_cpu_ids:4 nr_node_ids:1
    percpu: Embedded 66 pages/cpu s233472 r8192 d28672 u524288
    pcpu-alloc: s233472 r8192 d28672 u524288 alloc=1*2097152
    pcpu-alloc: [0] 0 1 2 3

which fix the static, reserved and dynamic sizes, the unit and atom sizes
and the possible CPUs.  The page size is not printed; it is an argument.
"""

from __future__ import annotations

import re
from pathlib import Path

from impl.boot import PcpuConfig

_SIZES = re.compile(r"pcpu-alloc: s(?P<s>\d+) r(?P<r>\d+) d(?P<d>\d+) u(?P<u>\d+) alloc=(?P<n>\d+)\*(?P<a>\d+)")
_GROUP = re.compile(r"pcpu-alloc: ((?:\[\d+\]\s+(?:[\d-]+\s*)+)+)$")
_NR_IDS = re.compile(r"nr_cpu_ids:(?P<n>\d+)")


class GeometryError(ValueError):
    """The boot log lacks or contradicts the percpu geometry lines."""


def parse_dmesg(text: str, page_size: int = 4096) -> tuple[PcpuConfig, int]:
    """A boot configuration and the unit size the kernel printed (to check the port against)."""
    m = _SIZES.search(text)
    if m is None:
        raise GeometryError("no 'pcpu-alloc: s<static> r<reserved> d<dynamic> u<unit> alloc=N*<atom>' line")
    cpus: list[int] = []
    for line in text.splitlines():
        g = _GROUP.search(line.strip())
        if g is None:
            continue
        for word in re.sub(r"\[\d+\]", " ", g.group(1)).split():
            if word.isdigit():
                cpus.append(int(word))
    if not cpus:
        raise GeometryError("no 'pcpu-alloc: [group] cpu...' line")
    n = _NR_IDS.search(text)
    cfg = PcpuConfig(
        page_size=page_size,
        possible_cpus=tuple(sorted(cpus)),
        nr_cpu_ids=int(n.group("n")) if n else None,
        static_size=int(m.group("s")),
        reserved_size=int(m.group("r")),
        dyn_size=int(m.group("d")),
        atom_size=int(m.group("a")),
    )
    return cfg, int(m.group("u"))


def load_dmesg(path: str | Path, page_size: int = 4096) -> tuple[PcpuConfig, int]:
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise GeometryError(f"{p}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    try:
        return parse_dmesg(text, page_size)
    except GeometryError as e:
        raise GeometryError(f"{p}: {e}") from None

