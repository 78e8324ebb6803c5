"""ctypes access to the kernel's percpu allocator compiled in user space.

Example::

    from oracle.cpercpu import COracle
    o = COracle(page_shift=6, unit_pages=4)     # 16-bit blocks, 4 pages
    h = o.new_chunk("dynamic")
    off = o.alloc(h, 4, 1)                      # byte offset, or -1
    snap = o.snapshot(h)
    o.free(h, off)

Each ``COracle`` loads a private copy of the shared library, so instances
never share the allocator's global state (slot lists, empty-page count).
"""

from __future__ import annotations

import ctypes as ct
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from oracle.build import ensure_library

MD_FIELDS = ("scan_hint", "scan_hint_start", "contig_hint", "contig_hint_start",
             "left_free", "right_free", "first_free", "nr_bits")
SNAPSHOT_KEYS = ("alloc_map", "bound_map", "populated", "free_bytes", "nr_populated",
                 "nr_empty_pop_pages", "slot", "chunk_md", "md_blocks")
CONFIG_FIELDS = ("page_shift", "block_bits", "min_alloc_size", "bits_per_long", "unit_pages",
                 "unit_size", "nr_slots", "sidelined_slot", "free_slot",
                 "to_depopulate_slot", "slot_base_shift", "slot_fail_threshold",
                 "subword_blocks", "bitops_kernel")
INFO_FIELDS = ("free_bytes", "nr_pages", "nr_populated", "nr_empty_pop_pages",
               "start_offset", "end_offset", "immutable", "isolated", "map_bits",
               "nr_blocks", "slot", "base_addr")
# page-aligned fake address of first chunks; the allocator never dereferences it
FIRST_CHUNK_BASE = 1 << 32
_ALLOC_MAP, _BOUND_MAP, _POPULATED = 0, 1, 2

MD = tuple[int, int, int, int, int, int, int, int]
_P = ct.c_void_p
_I = ct.c_int
_UL = ct.c_ulong
_SIGNATURES = {
    "oracle_init": (_I, [_I]),
    "oracle_config": (_I, [ct.POINTER(ct.c_long)]),
    "oracle_kernel_version": (ct.c_char_p, []),
    "oracle_globals": (None, [ct.POINTER(ct.c_long)]),
    "oracle_new_dynamic_chunk": (_P, [_I]),
    "oracle_new_first_chunk": (_P, [_UL, _I, _I]),
    "oracle_destroy_chunk": (None, [_P]),
    "oracle_find_block_fit": (_I, [_P, _I, ct.c_size_t, _I]),
    "oracle_alloc_area": (_I, [_P, _I, ct.c_size_t, _I]),
    "oracle_alloc": (_I, [_P, _I, ct.c_size_t, _I]),
    "oracle_free_area": (_I, [_P, _I]),
    "oracle_chunk_populated": (None, [_P, _I, _I]),
    "oracle_chunk_depopulated": (None, [_P, _I, _I]),
    "oracle_is_populated": (_I, [_P, _I, _I, ct.POINTER(_I)]),
    "oracle_chunk_slot": (_I, [_P]),
    "oracle_size_to_slot": (_I, [_I]),
    "oracle___pcpu_size_to_slot": (_I, [_I]),
    "oracle_chunk_relocate": (None, [_P, _I]),
    "oracle_chunk_move": (None, [_P, _I]),
    "oracle_isolate_chunk": (None, [_P]),
    "oracle_reintegrate_chunk": (None, [_P]),
    "oracle_slot_chunks": (_I, [_I, ct.POINTER(_P), _I]),
    "oracle_block_update": (None, [ct.POINTER(_I), _I, _I]),
    "oracle_check_block_hint": (_I, [ct.POINTER(_I), _I, ct.c_size_t]),
    "oracle_next_hint": (_I, [ct.POINTER(_I), _I]),
    "oracle_block_update_scan": (None, [_P, _I, _I]),
    "oracle_chunk_refresh_hint": (None, [_P, _I]),
    "oracle_block_refresh_hint": (None, [_P, _I]),
    "oracle_block_update_hint_alloc": (None, [_P, _I, _I]),
    "oracle_block_update_hint_free": (None, [_P, _I, _I]),
    "oracle_md_free_regions": (_I, [_P, _I, ct.POINTER(_I), _I]),
    "oracle_next_fit_region": (None, [_P, _I, _I, ct.POINTER(_I), ct.POINTER(_I)]),
    "oracle_find_zero_area": (_UL, [ct.POINTER(_UL), _UL, _UL, _UL, _UL, ct.POINTER(_UL),
                                    ct.POINTER(_UL)]),
    "oracle_region_overlap": (_I, [_I, _I, _I, _I]),
    "oracle_chunk_info": (_I, [_P, ct.POINTER(ct.c_long)]),
    "oracle_set_counters": (None, [_P, _I, _I, _I]),
    "oracle_get_bitmap": (_I, [_P, _I, ct.POINTER(_UL), _I]),
    "oracle_set_bitmap": (_I, [_P, _I, ct.POINTER(_UL), _I]),
    "oracle_get_md": (None, [_P, _I, ct.POINTER(_I)]),
    "oracle_set_md": (None, [_P, _I, ct.POINTER(_I)]),
}


def snapshot_keys() -> tuple[str, ...]:
    """The keys of ``COracle.snapshot()``, in a fixed order."""
    return SNAPSHOT_KEYS


def md_fields() -> tuple[str, ...]:
    """Names of the eight ints of an md tuple, in tuple order."""
    return MD_FIELDS


def _dlclose(handle: int) -> None:
    libdl = ct.CDLL(None)
    libdl.dlclose.argtypes = [ct.c_void_p]
    libdl.dlclose(handle)


def _md_array(md) -> ct.Array:
    if len(md) != 8:
        raise ValueError(f"an md tuple has 8 ints, got {len(md)}")
    return (_I * 8)(*md)


class COracle:
    """The kernel allocator built for ``page_shift`` with ``unit_pages`` per chunk."""

    def __init__(self, page_shift: int, unit_pages: int, ksrc=None, variant: str = "", lib=None):
        """``lib``: a library built elsewhere (e.g. from a patched tree) instead of build/oracle's."""
        src = Path(lib) if lib is not None else ensure_library(page_shift, ksrc, variant)
        self._tmpdir = tempfile.mkdtemp(prefix="pcpu-oracle-")
        private = Path(self._tmpdir) / src.name
        shutil.copyfile(src, private)
        self._lib: Any = ct.CDLL(str(private))
        os.unlink(private)
        os.rmdir(self._tmpdir)
        for name, (res, args) in _SIGNATURES.items():
            fn = getattr(self._lib, name)
            fn.restype = res
            fn.argtypes = args
        if unit_pages <= 0:
            raise ValueError(f"unit_pages must be positive, got {unit_pages}")
        self._chunks: dict[int, int] = {}  # handle -> chunk pointer
        self._next = 1
        self.unit_pages = unit_pages
        self.reset()
        self.kernel_version = self._lib.oracle_kernel_version().decode()
        self.page_shift = page_shift
        self.page_size = 1 << page_shift
        self.block_bits = self.config["block_bits"]
        self.min_alloc_size = self.config["min_alloc_size"]

    # ---- life cycle --------------------------------------------------------------

    def reset(self, unit_pages: int | None = None) -> None:
        """Destroy every chunk and set the globals up afresh (cheaper than a new
        instance, which loads another copy of the library)."""
        for handle in list(self._chunks):
            self.destroy(handle)
        if unit_pages is not None:
            self.unit_pages = unit_pages
        self._lib.oracle_init(self.unit_pages)
        out = (ct.c_long * 32)()
        n = self._lib.oracle_config(out)
        self.config = dict(zip(CONFIG_FIELDS, out[:n], strict=True))

    def close(self) -> None:
        """Free all chunks and unload this instance's copy of the library."""
        if self._lib is None:
            return
        for handle in list(self._chunks):
            self.destroy(handle)
        handle = self._lib._handle
        self._lib = None
        _dlclose(handle)

    def __enter__(self) -> COracle:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- chunks ----------------------------------------------------------------

    def _ptr(self, handle: int) -> int:
        try:
            return self._chunks[handle]
        except KeyError:
            raise KeyError(f"no chunk with handle {handle}") from None

    def _add(self, ptr: int | None) -> int:
        if not ptr:
            raise MemoryError("chunk allocation failed")
        handle = self._next
        self._next += 1
        self._chunks[handle] = ptr
        return handle

    def new_chunk(self, kind: str = "dynamic", *, populated: bool = True,
                  start_offset: int = 0, map_size: int | None = None,
                  reserved: bool = False) -> int:
        """Create a chunk and return its handle.

        ``"dynamic"``: ``pcpu_alloc_chunk`` with ``unit_pages`` pages; if
        ``populated``, every page is marked populated via
        ``pcpu_chunk_populated``; then ``pcpu_chunk_relocate(chunk, -1)``.

        ``"first"``: ``pcpu_alloc_first_chunk(base + start_offset, map_size)``
        where base is page aligned, so ``start_offset % page_size`` bytes at
        the start and the rounding gap at the end are hidden.  ``map_size``
        defaults to filling ``unit_pages`` pages.  With ``reserved`` it becomes
        ``pcpu_reserved_chunk`` (kept off the slot lists and out of the global
        empty-page count); otherwise it is relocated into the slot lists and
        its empty pages are added to the global count.
        """
        if kind == "dynamic":
            return self._add(self._lib.oracle_new_dynamic_chunk(int(populated)))
        if kind != "first":
            raise ValueError(f"kind must be 'dynamic' or 'first', not {kind!r}")
        if map_size is None:
            map_size = self.unit_pages * self.page_size - start_offset % self.page_size
        if start_offset < 0 or map_size <= 0:
            raise ValueError("need start_offset >= 0 and map_size > 0")
        if start_offset % self.min_alloc_size or map_size % self.min_alloc_size:
            raise ValueError(f"start_offset and map_size must be multiples of "
                             f"{self.min_alloc_size}")
        ptr = self._lib.oracle_new_first_chunk(FIRST_CHUNK_BASE + start_offset, map_size,
                                               int(reserved))
        return self._add(ptr)

    def destroy(self, handle: int) -> None:
        """Unlink the chunk from the slot lists and free it (counters untouched)."""
        self._lib.oracle_destroy_chunk(self._ptr(handle))
        del self._chunks[handle]

    def handles(self) -> list[int]:
        """Handles of the live chunks."""
        return list(self._chunks)

    # ---- allocation --------------------------------------------------------------

    def alloc(self, handle: int, alloc_bits: int, bit_align: int, pop_only: bool = False) -> int:
        """``pcpu_find_block_fit`` then ``pcpu_alloc_area``: byte offset or -1."""
        return self._lib.oracle_alloc(self._ptr(handle), alloc_bits, bit_align, int(pop_only))

    def find_block_fit(self, handle: int, alloc_bits: int, bit_align: int,
                       pop_only: bool = False) -> int:
        """``pcpu_find_block_fit``: bit offset to start searching at, or -1."""
        return self._lib.oracle_find_block_fit(self._ptr(handle), alloc_bits, bit_align,
                                               int(pop_only))

    def alloc_area(self, handle: int, alloc_bits: int, bit_align: int, start: int) -> int:
        """``pcpu_alloc_area`` from bit ``start``: byte offset or -1."""
        return self._lib.oracle_alloc_area(self._ptr(handle), alloc_bits, bit_align, start)

    def free(self, handle: int, byte_off: int) -> int:
        """``pcpu_free_area``: the number of bytes freed."""
        return self._lib.oracle_free_area(self._ptr(handle), byte_off)

    def populate(self, handle: int, page_start: int, page_end: int) -> None:
        """``pcpu_chunk_populated`` for pages [page_start, page_end)."""
        self._lib.oracle_chunk_populated(self._ptr(handle), page_start, page_end)

    def depopulate(self, handle: int, page_start: int, page_end: int) -> None:
        """``pcpu_chunk_depopulated`` for pages [page_start, page_end)."""
        self._lib.oracle_chunk_depopulated(self._ptr(handle), page_start, page_end)

    def is_populated(self, handle: int, bit_off: int, bits: int) -> tuple[bool, int | None]:
        """``pcpu_is_populated``: (result, next_off or None when populated)."""
        nxt = _I(-1)
        ok = self._lib.oracle_is_populated(self._ptr(handle), bit_off, bits, ct.byref(nxt))
        return bool(ok), (None if ok else nxt.value)

    # ---- slots ---------------------------------------------------------------------

    def chunk_slot(self, handle: int) -> int:
        return self._lib.oracle_chunk_slot(self._ptr(handle))

    def size_to_slot(self, size: int) -> int:
        return self._lib.oracle_size_to_slot(size)

    def raw_size_to_slot(self, size: int) -> int:
        """``__pcpu_size_to_slot``."""
        return self._lib.oracle___pcpu_size_to_slot(size)

    def relocate(self, handle: int, oslot: int) -> None:
        self._lib.oracle_chunk_relocate(self._ptr(handle), oslot)

    def move(self, handle: int, slot: int) -> None:
        """``pcpu_chunk_move``: to the front of ``slot``."""
        self._lib.oracle_chunk_move(self._ptr(handle), slot)

    def isolate(self, handle: int) -> None:
        self._lib.oracle_isolate_chunk(self._ptr(handle))

    def reintegrate(self, handle: int) -> None:
        self._lib.oracle_reintegrate_chunk(self._ptr(handle))

    def slot_lists(self) -> list[list[int]]:
        """Chunk handles on each slot list, front to back."""
        by_ptr = {ptr: h for h, ptr in self._chunks.items()}
        lists = []
        cap = max(len(self._chunks), 1)
        buf = (_P * cap)()
        for slot in range(self.config["nr_slots"]):
            n = self._lib.oracle_slot_chunks(slot, buf, cap)
            ptrs = [buf[i] or 0 for i in range(min(n, cap))]
            lists.append([by_ptr.get(p, p) for p in ptrs])
        return lists

    def globals(self) -> dict[str, int]:
        """``pcpu_nr_empty_pop_pages`` and ``pcpu_nr_populated``."""
        out = (ct.c_long * 2)()
        self._lib.oracle_globals(out)
        return {"nr_empty_pop_pages": out[0], "nr_populated": out[1]}

    # ---- hints -----------------------------------------------------------------------

    def block_update(self, md, start: int, end: int) -> MD:
        """``pcpu_block_update`` on a scratch copy of ``md``; returns the result."""
        arr = _md_array(md)
        self._lib.oracle_block_update(arr, start, end)
        return tuple(arr)

    def check_block_hint(self, md, bits: int, align: int) -> bool:
        return bool(self._lib.oracle_check_block_hint(_md_array(md), bits, align))

    def next_hint(self, md, alloc_bits: int) -> int:
        return self._lib.oracle_next_hint(_md_array(md), alloc_bits)

    def chunk_refresh_hint(self, handle: int, full_scan: bool) -> None:
        self._lib.oracle_chunk_refresh_hint(self._ptr(handle), int(full_scan))

    def block_refresh_hint(self, handle: int, index: int) -> None:
        self._lib.oracle_block_refresh_hint(self._ptr(handle), index)

    def block_update_scan(self, handle: int, bit_off: int, bits: int) -> None:
        self._lib.oracle_block_update_scan(self._ptr(handle), bit_off, bits)

    def block_update_hint_alloc(self, handle: int, bit_off: int, bits: int) -> None:
        self._lib.oracle_block_update_hint_alloc(self._ptr(handle), bit_off, bits)

    def block_update_hint_free(self, handle: int, bit_off: int, bits: int) -> None:
        self._lib.oracle_block_update_hint_free(self._ptr(handle), bit_off, bits)

    def md_free_regions(self, handle: int, start: int) -> list[tuple[int, int]]:
        """The (bit_off, bits) pairs ``pcpu_for_each_md_free_region`` visits."""
        ptr = self._ptr(handle)
        cap = self.chunk_info(handle)["map_bits"] + 1
        buf = (_I * (2 * cap))()
        n = self._lib.oracle_md_free_regions(ptr, start, buf, cap)
        return [(buf[2 * i], buf[2 * i + 1]) for i in range(min(n, cap))]

    def next_fit_region(self, handle: int, alloc_bits: int, align: int,
                        bit_off: int) -> tuple[int, int]:
        """One ``pcpu_next_fit_region`` step from ``bit_off``: (bit_off, bits)."""
        off, bits = _I(bit_off), _I(0)
        self._lib.oracle_next_fit_region(self._ptr(handle), alloc_bits, align,
                                         ct.byref(off), ct.byref(bits))
        return off.value, bits.value

    def find_zero_area(self, bitmap: int, size: int, start: int, nr: int, align_mask: int,
                       largest_off: int = 0, largest_bits: int = 0) -> tuple[int, int, int]:
        """``pcpu_find_zero_area`` on a Python-int bitmap: (result, off, bits)."""
        words = max((size + 64) // 64 + 1, 1)
        arr = (_UL * words)(*[(bitmap >> (64 * i)) & (2**64 - 1) for i in range(words)])
        lo, lb = _UL(largest_off), _UL(largest_bits)
        res = self._lib.oracle_find_zero_area(arr, size, start, nr, align_mask,
                                              ct.byref(lo), ct.byref(lb))
        return res, lo.value, lb.value

    def region_overlap(self, a: int, b: int, x: int, y: int) -> bool:
        return bool(self._lib.oracle_region_overlap(a, b, x, y))

    # ---- state -------------------------------------------------------------------------

    def chunk_info(self, handle: int) -> dict[str, int]:
        """Sizes, offsets and flags of a chunk (see ``INFO_FIELDS``)."""
        out = (ct.c_long * 16)()
        n = self._lib.oracle_chunk_info(self._ptr(handle), out)
        return dict(zip(INFO_FIELDS, out[:n], strict=True))

    def _bitmap(self, ptr: int, which: int) -> int:
        n = self._lib.oracle_get_bitmap(ptr, which, None, 0)
        buf = (_UL * n)()
        self._lib.oracle_get_bitmap(ptr, which, buf, n)
        return int.from_bytes(bytes(buf), sys.byteorder)  # the words, least significant first

    def _md(self, ptr: int, index: int) -> MD:
        buf = (_I * 8)()
        self._lib.oracle_get_md(ptr, index, buf)
        return tuple(buf)

    def snapshot(self, handle: int) -> dict:
        """The chunk's state; keys as ``snapshot_keys()``.

        Bitmaps are Python ints (bit i = bit i).  ``bound_map`` has
        map_bits + 1 meaningful bits; ``populated`` is masked to nr_pages
        bits (the kernel's ``bitmap_fill`` also sets the unused tail of the
        last word, which nothing reads).
        """
        ptr = self._ptr(handle)
        info = self.chunk_info(handle)
        return {
            "alloc_map": self._bitmap(ptr, _ALLOC_MAP),
            "bound_map": self._bitmap(ptr, _BOUND_MAP),
            "populated": self._bitmap(ptr, _POPULATED) & ((1 << info["nr_pages"]) - 1),
            "free_bytes": info["free_bytes"],
            "nr_populated": info["nr_populated"],
            "nr_empty_pop_pages": info["nr_empty_pop_pages"],
            "slot": info["slot"],
            "chunk_md": self._md(ptr, -1),
            "md_blocks": [self._md(ptr, i) for i in range(info["nr_blocks"])],
        }

    def load_state(self, handle: int, snap: dict) -> None:
        """Overwrite a chunk's bitmaps, hints and counters from a snapshot dict.

        ``slot`` is ignored (it is derived); the chunk is not moved between
        slot lists.  Useful to run single hint functions from arbitrary states.
        """
        ptr = self._ptr(handle)
        for which, key in ((_ALLOC_MAP, "alloc_map"), (_BOUND_MAP, "bound_map"),
                           (_POPULATED, "populated")):
            n = self._lib.oracle_get_bitmap(ptr, which, None, 0)
            val = snap[key]
            buf = (_UL * n)(*[(val >> (64 * i)) & (2**64 - 1) for i in range(n)])
            self._lib.oracle_set_bitmap(ptr, which, buf, n)
        self._lib.oracle_set_md(ptr, -1, _md_array(snap["chunk_md"]))
        blocks = snap["md_blocks"]
        if len(blocks) != self.chunk_info(handle)["nr_blocks"]:
            raise ValueError("md_blocks length does not match the chunk")
        for i, md in enumerate(blocks):
            self._lib.oracle_set_md(ptr, i, _md_array(md))
        self._lib.oracle_set_counters(ptr, snap["free_bytes"], snap["nr_populated"],
                                      snap["nr_empty_pop_pages"])
