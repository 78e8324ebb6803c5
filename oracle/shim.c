/*
 * The oracle's single translation unit: user-space stand-ins, the code
 * extracted from the kernel tree (build/oracle/gen/), the allocator globals,
 * and thin exported wrappers (prefix oracle_) around the static kernel
 * functions so that Python can reach them through ctypes.
 *
 * Written for this project; the only kernel code compiled here is what
 * oracle/extract.py generates into kernel_defs.h and kernel_funcs.c.
 */
#include "compat.h"
#include "kernel_defs.h"

#define EXPORT __attribute__((visibility("default")))

/* ---- globals that mm/percpu.c owns; oracle_init sets them up ----------- */
static int pcpu_unit_pages;
static int pcpu_unit_size;
int pcpu_nr_slots;
static int pcpu_free_slot;
int pcpu_sidelined_slot;
int pcpu_to_depopulate_slot;
static size_t pcpu_chunk_struct_size;
struct pcpu_chunk *pcpu_first_chunk;
struct pcpu_chunk *pcpu_reserved_chunk;
spinlock_t pcpu_lock;
struct list_head *pcpu_chunk_lists;
int pcpu_nr_empty_pop_pages;
static unsigned long pcpu_nr_populated;

/*
 * With 64-bit words the kernel's pcpu_index_alloc_map() can only point at a
 * block that starts on a word boundary, i.e. blocks of at least 64 bits
 * (PAGE_SHIFT >= 8).  For smaller blocks the oracle hands out a copy of the
 * block's bits shifted to bit 0.  Every caller in the allocator only reads
 * through that pointer, and reads it before the bitmap changes again.
 */
#if defined(ORACLE_FORCE_SUBWORD) && ORACLE_FORCE_SUBWORD
/* test variant: use the copying view even where the kernel's would work */
#define ORACLE_SUBWORD_BLOCKS 1
#else
#define ORACLE_SUBWORD_BLOCKS ((PCPU_BITMAP_BLOCK_BITS % BITS_PER_LONG) != 0)
#endif
#if ORACLE_SUBWORD_BLOCKS && PCPU_BITMAP_BLOCK_BITS > BITS_PER_LONG
#error "the copying block view handles blocks of at most one word"
#endif

#if ORACLE_SUBWORD_BLOCKS
#define ORACLE_SCRATCH_SLOTS 8
static unsigned long oracle_scratch[ORACLE_SCRATCH_SLOTS];
static unsigned int oracle_scratch_next;

static unsigned long *oracle_subword_pcpu_index_alloc_map(struct pcpu_chunk *chunk, int index)
{
	unsigned long *w = &oracle_scratch[oracle_scratch_next++ % ORACLE_SCRATCH_SLOTS];
	unsigned long first = (unsigned long)index * PCPU_BITMAP_BLOCK_BITS;
	unsigned long i;

	*w = 0;
	for (i = 0; i < PCPU_BITMAP_BLOCK_BITS; i++)
		if (test_bit(first + i, chunk->alloc_map))
			*w |= 1UL << i;
	return w;
}
#endif

#include "kernel_funcs.c"

/* ---- setup --------------------------------------------------------------- */

/* Set the globals the way pcpu_setup_first_chunk() does for unit_pages. */
EXPORT int oracle_init(int unit_pages)
{
	int i;

	if (unit_pages <= 0)
		return -1;
	pcpu_unit_pages = unit_pages;
	pcpu_unit_size = unit_pages << PAGE_SHIFT;
	pcpu_chunk_struct_size = struct_size((struct pcpu_chunk *)0, populated,
					     BITS_TO_LONGS(pcpu_unit_pages));
	pcpu_sidelined_slot = __pcpu_size_to_slot(pcpu_unit_size) + 1;
	pcpu_free_slot = pcpu_sidelined_slot + 1;
	pcpu_to_depopulate_slot = pcpu_free_slot + 1;
	pcpu_nr_slots = pcpu_to_depopulate_slot + 1;
	free(pcpu_chunk_lists);
	pcpu_chunk_lists = oracle_zalloc(pcpu_nr_slots * sizeof(pcpu_chunk_lists[0]));
	for (i = 0; i < pcpu_nr_slots; i++)
		INIT_LIST_HEAD(&pcpu_chunk_lists[i]);
	pcpu_first_chunk = NULL;
	pcpu_reserved_chunk = NULL;
	pcpu_nr_empty_pop_pages = 0;
	pcpu_nr_populated = 0;
	return 0;
}

enum {
	CFG_PAGE_SHIFT, CFG_BLOCK_BITS, CFG_MIN_ALLOC_SIZE, CFG_BITS_PER_LONG, CFG_UNIT_PAGES,
	CFG_UNIT_SIZE, CFG_NR_SLOTS, CFG_SIDELINED_SLOT, CFG_FREE_SLOT, CFG_TO_DEPOPULATE_SLOT,
	CFG_SLOT_BASE_SHIFT, CFG_SLOT_FAIL_THRESHOLD, CFG_SUBWORD_BLOCKS, CFG_BITOPS_KERNEL,
	CFG_COUNT
};

EXPORT int oracle_config(long *out)
{
	out[CFG_PAGE_SHIFT] = PAGE_SHIFT;
	out[CFG_BLOCK_BITS] = PCPU_BITMAP_BLOCK_BITS;
	out[CFG_MIN_ALLOC_SIZE] = PCPU_MIN_ALLOC_SIZE;
	out[CFG_BITS_PER_LONG] = BITS_PER_LONG;
	out[CFG_UNIT_PAGES] = pcpu_unit_pages;
	out[CFG_UNIT_SIZE] = pcpu_unit_size;
	out[CFG_NR_SLOTS] = pcpu_nr_slots;
	out[CFG_SIDELINED_SLOT] = pcpu_sidelined_slot;
	out[CFG_FREE_SLOT] = pcpu_free_slot;
	out[CFG_TO_DEPOPULATE_SLOT] = pcpu_to_depopulate_slot;
	out[CFG_SLOT_BASE_SHIFT] = PCPU_SLOT_BASE_SHIFT;
	out[CFG_SLOT_FAIL_THRESHOLD] = PCPU_SLOT_FAIL_THRESHOLD;
	out[CFG_SUBWORD_BLOCKS] = ORACLE_SUBWORD_BLOCKS;
	out[CFG_BITOPS_KERNEL] = ORACLE_BITOPS_KERNEL;
	return CFG_COUNT;
}

EXPORT const char *oracle_kernel_version(void)
{
	return ORACLE_KERNEL_VERSION;
}

EXPORT void oracle_globals(long *out)
{
	out[0] = pcpu_nr_empty_pop_pages;
	out[1] = (long)pcpu_nr_populated;
}

/* ---- chunk life cycle ------------------------------------------------ */

/* A chunk as pcpu_create_chunk() would return it, optionally fully populated
 * and then put on its slot list (as pcpu_balance_populated() does). */
EXPORT struct pcpu_chunk *oracle_new_dynamic_chunk(int populate)
{
	struct pcpu_chunk *chunk = pcpu_alloc_chunk(GFP_KERNEL);

	if (populate)
		pcpu_chunk_populated(chunk, 0, chunk->nr_pages);
	pcpu_chunk_relocate(chunk, -1);
	return chunk;
}

/* The first (or reserved) chunk: like pcpu_setup_first_chunk(), the global
 * empty-page count only ever includes the dynamic first chunk. */
EXPORT struct pcpu_chunk *oracle_new_first_chunk(unsigned long tmp_addr, int map_size,
						 int reserved)
{
	int saved = pcpu_nr_empty_pop_pages;
	struct pcpu_chunk *chunk = pcpu_alloc_first_chunk(tmp_addr, map_size);

	pcpu_nr_empty_pop_pages = saved;
	if (reserved) {
		pcpu_reserved_chunk = chunk;
	} else {
		pcpu_first_chunk = chunk;
		pcpu_nr_empty_pop_pages += chunk->nr_empty_pop_pages;
		pcpu_chunk_relocate(chunk, -1);
	}
	return chunk;
}

EXPORT struct pcpu_chunk *oracle_alloc_chunk(void) { return pcpu_alloc_chunk(GFP_KERNEL); }

EXPORT struct pcpu_chunk *oracle_alloc_first_chunk(unsigned long tmp_addr, int map_size)
{
	return pcpu_alloc_first_chunk(tmp_addr, map_size);
}

/* Unlink from any slot list and release the memory. */
EXPORT void oracle_destroy_chunk(struct pcpu_chunk *chunk)
{
	list_del_init(&chunk->list);
	if (chunk == pcpu_first_chunk)
		pcpu_first_chunk = NULL;
	if (chunk == pcpu_reserved_chunk)
		pcpu_reserved_chunk = NULL;
	pcpu_free_chunk(chunk);
}

/* ---- the allocator paths ------------------------------------------------ */

EXPORT int oracle_find_block_fit(struct pcpu_chunk *c, int bits, size_t align, int pop_only)
{
	return pcpu_find_block_fit(c, bits, align, pop_only != 0);
}

EXPORT int oracle_alloc_area(struct pcpu_chunk *c, int bits, size_t align, int start)
{
	return pcpu_alloc_area(c, bits, align, start);
}

/* What pcpu_alloc() does with a single candidate chunk. */
EXPORT int oracle_alloc(struct pcpu_chunk *c, int bits, size_t align, int pop_only)
{
	int off = pcpu_find_block_fit(c, bits, align, pop_only != 0);

	if (off < 0)
		return -1;
	return pcpu_alloc_area(c, bits, align, off);
}

EXPORT int oracle_free_area(struct pcpu_chunk *c, int off) { return pcpu_free_area(c, off); }

EXPORT void oracle_chunk_populated(struct pcpu_chunk *c, int s, int e)
{
	pcpu_chunk_populated(c, s, e);
}

EXPORT void oracle_chunk_depopulated(struct pcpu_chunk *c, int s, int e)
{
	pcpu_chunk_depopulated(c, s, e);
}

EXPORT int oracle_is_populated(struct pcpu_chunk *c, int bit_off, int bits, int *next_off)
{
	return pcpu_is_populated(c, bit_off, bits, next_off);
}

/* ---- slot lists ------------------------------------------------------- */

EXPORT int oracle_chunk_slot(struct pcpu_chunk *c) { return pcpu_chunk_slot(c); }
EXPORT int oracle_size_to_slot(int size) { return pcpu_size_to_slot(size); }
EXPORT int oracle___pcpu_size_to_slot(int size) { return __pcpu_size_to_slot(size); }
EXPORT void oracle_chunk_relocate(struct pcpu_chunk *c, int oslot) { pcpu_chunk_relocate(c, oslot); }
EXPORT void oracle_chunk_move(struct pcpu_chunk *c, int slot) { pcpu_chunk_move(c, slot); }
EXPORT void oracle_isolate_chunk(struct pcpu_chunk *c) { pcpu_isolate_chunk(c); }
EXPORT void oracle_reintegrate_chunk(struct pcpu_chunk *c) { pcpu_reintegrate_chunk(c); }

/* Chunks on slot list `slot`, front to back; returns how many there are. */
EXPORT int oracle_slot_chunks(int slot, struct pcpu_chunk **out, int max)
{
	struct pcpu_chunk *c;
	int n = 0;

	if (slot < 0 || slot >= pcpu_nr_slots)
		return -1;
	list_for_each_entry(c, &pcpu_chunk_lists[slot], list) {
		if (n < max)
			out[n] = c;
		n++;
	}
	return n;
}

/* ---- hint machinery ----------------------------------------------------- */

/* Metadata blocks cross the boundary as 8 ints in this fixed order. */
static void md_out(const struct pcpu_block_md *b, int *o)
{
	o[0] = b->scan_hint;
	o[1] = b->scan_hint_start;
	o[2] = b->contig_hint;
	o[3] = b->contig_hint_start;
	o[4] = b->left_free;
	o[5] = b->right_free;
	o[6] = b->first_free;
	o[7] = b->nr_bits;
}

static void md_in(struct pcpu_block_md *b, const int *i)
{
	b->scan_hint = i[0];
	b->scan_hint_start = i[1];
	b->contig_hint = i[2];
	b->contig_hint_start = i[3];
	b->left_free = i[4];
	b->right_free = i[5];
	b->first_free = i[6];
	b->nr_bits = i[7];
}

EXPORT void oracle_block_update(int *md, int start, int end)
{
	struct pcpu_block_md b;

	md_in(&b, md);
	pcpu_block_update(&b, start, end);
	md_out(&b, md);
}

EXPORT int oracle_check_block_hint(const int *md, int bits, size_t align)
{
	struct pcpu_block_md b;

	md_in(&b, md);
	return pcpu_check_block_hint(&b, bits, align);
}

EXPORT int oracle_next_hint(const int *md, int alloc_bits)
{
	struct pcpu_block_md b;

	md_in(&b, md);
	return pcpu_next_hint(&b, alloc_bits);
}

EXPORT void oracle_block_update_scan(struct pcpu_chunk *c, int bit_off, int bits)
{
	pcpu_block_update_scan(c, bit_off, bits);
}

EXPORT void oracle_chunk_refresh_hint(struct pcpu_chunk *c, int full_scan)
{
	pcpu_chunk_refresh_hint(c, full_scan != 0);
}

EXPORT void oracle_block_refresh_hint(struct pcpu_chunk *c, int index)
{
	pcpu_block_refresh_hint(c, index);
}

EXPORT void oracle_block_update_hint_alloc(struct pcpu_chunk *c, int bit_off, int bits)
{
	pcpu_block_update_hint_alloc(c, bit_off, bits);
}

EXPORT void oracle_block_update_hint_free(struct pcpu_chunk *c, int bit_off, int bits)
{
	pcpu_block_update_hint_free(c, bit_off, bits);
}

/* Every (bit_off, bits) pair pcpu_for_each_md_free_region visits from start. */
EXPORT int oracle_md_free_regions(struct pcpu_chunk *c, int start, int *out, int max)
{
	int bit_off = start, bits = 0, n = 0;

	pcpu_for_each_md_free_region(c, bit_off, bits) {
		if (n < max) {
			out[2 * n] = bit_off;
			out[2 * n + 1] = bits;
		}
		n++;
	}
	return n;
}

EXPORT void oracle_next_fit_region(struct pcpu_chunk *c, int alloc_bits, int align,
				   int *bit_off, int *bits)
{
	pcpu_next_fit_region(c, alloc_bits, align, bit_off, bits);
}

EXPORT unsigned long oracle_find_zero_area(unsigned long *map, unsigned long size,
					   unsigned long start, unsigned long nr,
					   unsigned long align_mask, unsigned long *largest_off,
					   unsigned long *largest_bits)
{
	return pcpu_find_zero_area(map, size, start, nr, align_mask, largest_off, largest_bits);
}

EXPORT int oracle_region_overlap(int a, int b, int x, int y)
{
	return pcpu_region_overlap(a, b, x, y);
}

/* ---- reading and writing chunk state ------------------------------------ */

enum {
	INFO_FREE_BYTES, INFO_NR_PAGES, INFO_NR_POPULATED, INFO_NR_EMPTY_POP_PAGES,
	INFO_START_OFFSET, INFO_END_OFFSET, INFO_IMMUTABLE, INFO_ISOLATED, INFO_MAP_BITS,
	INFO_NR_BLOCKS, INFO_SLOT, INFO_BASE_ADDR, INFO_COUNT
};

EXPORT int oracle_chunk_info(struct pcpu_chunk *c, long *out)
{
	out[INFO_FREE_BYTES] = c->free_bytes;
	out[INFO_NR_PAGES] = c->nr_pages;
	out[INFO_NR_POPULATED] = c->nr_populated;
	out[INFO_NR_EMPTY_POP_PAGES] = c->nr_empty_pop_pages;
	out[INFO_START_OFFSET] = c->start_offset;
	out[INFO_END_OFFSET] = c->end_offset;
	out[INFO_IMMUTABLE] = c->immutable;
	out[INFO_ISOLATED] = c->isolated;
	out[INFO_MAP_BITS] = pcpu_chunk_map_bits(c);
	out[INFO_NR_BLOCKS] = pcpu_chunk_nr_blocks(c);
	out[INFO_SLOT] = pcpu_chunk_slot(c);
	out[INFO_BASE_ADDR] = (long)(unsigned long)c->base_addr;
	return INFO_COUNT;
}

EXPORT void oracle_set_counters(struct pcpu_chunk *c, int free_bytes, int nr_populated,
				int nr_empty_pop_pages)
{
	c->free_bytes = free_bytes;
	c->nr_populated = nr_populated;
	c->nr_empty_pop_pages = nr_empty_pop_pages;
}

/* which: 0 alloc_map, 1 bound_map, 2 populated; returns the word count. */
static unsigned long *bitmap_of(struct pcpu_chunk *c, int which, int *words)
{
	int bits = pcpu_chunk_map_bits(c);

	switch (which) {
	case 0:
		*words = BITS_TO_LONGS(bits);
		return c->alloc_map;
	case 1:
		*words = BITS_TO_LONGS(bits + 1);
		return c->bound_map;
	default:
		*words = BITS_TO_LONGS(c->nr_pages);
		return c->populated;
	}
}

EXPORT int oracle_get_bitmap(struct pcpu_chunk *c, int which, unsigned long *out, int max)
{
	int words;
	unsigned long *map = bitmap_of(c, which, &words);

	if (out && max > 0)
		memcpy(out, map, (size_t)min(words, max) * sizeof(long));
	return words;
}

EXPORT int oracle_set_bitmap(struct pcpu_chunk *c, int which, const unsigned long *in, int n)
{
	int words;
	unsigned long *map = bitmap_of(c, which, &words);

	if (in && n > 0)
		memcpy(map, in, (size_t)min(words, n) * sizeof(long));
	return words;
}

/* index -1 is chunk_md, otherwise md_blocks[index] */
EXPORT void oracle_get_md(struct pcpu_chunk *c, int index, int *out)
{
	md_out(index < 0 ? &c->chunk_md : &c->md_blocks[index], out);
}

EXPORT void oracle_set_md(struct pcpu_chunk *c, int index, const int *in)
{
	md_in(index < 0 ? &c->chunk_md : &c->md_blocks[index], in);
}
