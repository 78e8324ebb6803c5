/*
 * User-space stand-ins for the kernel facilities that the extracted percpu
 * allocator code uses.  Written for this project; no kernel code is copied
 * here.  The aim is identical observable behaviour, including the integer
 * types that the kernel macros produce (e.g. PAGE_SIZE is unsigned long and
 * ALIGN() computes in the type of its first argument).
 *
 * PAGE_SHIFT must be given on the compiler command line (-DPAGE_SHIFT=12).
 */
#ifndef ORACLE_COMPAT_H
#define ORACLE_COMPAT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PAGE_SHIFT
#error "compile with -DPAGE_SHIFT=<n>"
#endif

/* ---- sizes ------------------------------------------------------------ */
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define SMP_CACHE_BYTES 64
#define BITS_PER_BYTE 8
#define BITS_PER_LONG (__SIZEOF_LONG__ * 8)
#define BIT_WORD(nr) ((nr) / BITS_PER_LONG)
#define ORACLE_BIT(nr) (1UL << ((nr) % BITS_PER_LONG))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define BITS_TO_LONGS(nr) DIV_ROUND_UP(nr, BITS_PER_BYTE * sizeof(long))
#define BITMAP_MEM_ALIGNMENT 8
#define BITMAP_MEM_MASK (BITMAP_MEM_ALIGNMENT - 1)

/* a mask with bits lo..hi (inclusive) set */
#define GENMASK(hi, lo) ((~0UL >> (BITS_PER_LONG - 1 - (hi))) & (~0UL << (lo)))
#define small_const_nbits(n) \
	(__builtin_constant_p(n) && (n) <= BITS_PER_LONG && (n) > 0)

/* ---- annotations ------------------------------------------------------ */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#undef __always_inline
#define __always_inline inline __attribute__((__always_inline__))
#define __maybe_unused __attribute__((__unused__))
#define __init
#define __initdata
#define __ro_after_init
#define __read_mostly
#define __percpu
#define __force
#define ____cacheline_aligned_in_smp __attribute__((__aligned__(SMP_CACHE_BYTES)))
#define EXPORT_SYMBOL(sym)

/* ---- arithmetic ------------------------------------------------------- */
#define min(a, b) ({ __typeof__(a) _mn_a = (a); __typeof__(b) _mn_b = (b); \
		     _mn_a < _mn_b ? _mn_a : _mn_b; })
#define max(a, b) ({ __typeof__(a) _mx_a = (a); __typeof__(b) _mx_b = (b); \
		     _mx_a > _mx_b ? _mx_a : _mx_b; })
#define min_t(type, a, b) min((type)(a), (type)(b))
#define max_t(type, a, b) max((type)(a), (type)(b))
#define clamp(v, lo, hi) min(max(v, lo), hi)

/* round x up using mask m; ALIGN does it in the type of x */
#define __ALIGN_MASK(x, m) (((x) + (m)) & ~(m))
#define ALIGN(x, a) __ALIGN_MASK(x, (__typeof__(x))(a) - 1)
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)

#define PFN_DOWN(x) ((x) >> PAGE_SHIFT)
#define PFN_UP(x) (((x) + PAGE_SIZE - 1) >> PAGE_SHIFT)
#define PFN_ALIGN(x) (((unsigned long)(x) + (PAGE_SIZE - 1)) & PAGE_MASK)

#define struct_size(p, member, n) \
	(sizeof(*(p)) + (size_t)(n) * sizeof((p)->member[0]))

/* lowest set bit (x != 0) */
static inline unsigned long __ffs(unsigned long x) { return (unsigned long)__builtin_ctzl(x); }
/* highest set bit (x != 0) */
static inline unsigned long __fls(unsigned long x)
{
	return (unsigned long)(BITS_PER_LONG - 1 - __builtin_clzl(x));
}
/* lowest clear bit (x != ~0) */
#define ffz(x) __ffs(~(x))
/* 1-based position of the highest set bit, 0 for 0 */
static inline int fls(unsigned int x) { return x ? 32 - __builtin_clz(x) : 0; }

/* ---- single bits (no atomicity needed here) --------------------------- */
static inline void __set_bit(unsigned long nr, unsigned long *addr)
{
	addr[BIT_WORD(nr)] |= ORACLE_BIT(nr);
}

static inline void __clear_bit(unsigned long nr, unsigned long *addr)
{
	addr[BIT_WORD(nr)] &= ~ORACLE_BIT(nr);
}

static inline bool test_bit(unsigned long nr, const unsigned long *addr)
{
	return (addr[BIT_WORD(nr)] >> (nr % BITS_PER_LONG)) & 1;
}

#define set_bit(nr, addr) __set_bit(nr, addr)
#define clear_bit(nr, addr) __clear_bit(nr, addr)

/* ---- diagnostics ------------------------------------------------------ */
#define panic(...) do { fprintf(stderr, "percpu oracle panic: " __VA_ARGS__); abort(); } while (0)
#define WARN_ON(cond) ({ int _w = !!(cond); \
	if (_w) fprintf(stderr, "percpu oracle: WARN_ON(%s) at %s:%d\n", #cond, __FILE__, __LINE__); \
	_w; })
#define WARN_ON_ONCE(cond) WARN_ON(cond)
#define BUG_ON(cond) do { if (cond) { WARN_ON(1); abort(); } } while (0)

/* ---- locking: single threaded, so nothing to do ----------------------- */
typedef struct { int unused; } spinlock_t;
#define lockdep_assert_held(lock) ((void)0)
#define spin_lock_irqsave(lock, flags) ((void)(flags))
#define spin_unlock_irqrestore(lock, flags) ((void)(flags))

/* ---- memory ----------------------------------------------------------- */
typedef unsigned int gfp_t;
#define GFP_KERNEL 0u

static inline void *oracle_zalloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);

	if (!p)
		panic("out of memory (%zu bytes)\n", size);
	return p;
}

#define memblock_alloc(size, align) oracle_zalloc(size)
#define kzalloc(size, gfp) oracle_zalloc(size)
#define pcpu_mem_zalloc(size, gfp) oracle_zalloc(size)
#define pcpu_mem_free(ptr) free(ptr)

/* ---- statistics: compiled out as with CONFIG_PERCPU_STATS=n ----------- */
struct pcpu_chunk;
static inline void pcpu_stats_area_alloc(struct pcpu_chunk *c, size_t s) { (void)c; (void)s; }
static inline void pcpu_stats_area_dealloc(struct pcpu_chunk *c) { (void)c; }
static inline void pcpu_stats_chunk_alloc(void) {}
static inline void pcpu_stats_chunk_dealloc(void) {}

/* ---- doubly linked lists ---------------------------------------------- */
struct list_head {
	struct list_head *next, *prev;
};

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

static inline void INIT_LIST_HEAD(struct list_head *h)
{
	h->next = h;
	h->prev = h;
}

static inline void oracle_list_link(struct list_head *e, struct list_head *prev,
				    struct list_head *next)
{
	next->prev = e;
	e->next = next;
	e->prev = prev;
	prev->next = e;
}

static inline void oracle_list_unlink(struct list_head *e)
{
	e->next->prev = e->prev;
	e->prev->next = e->next;
}

static inline void list_add(struct list_head *e, struct list_head *head)
{
	oracle_list_link(e, head, head->next);
}

static inline void list_add_tail(struct list_head *e, struct list_head *head)
{
	oracle_list_link(e, head->prev, head);
}

static inline void list_del_init(struct list_head *e)
{
	oracle_list_unlink(e);
	INIT_LIST_HEAD(e);
}

static inline void list_move(struct list_head *e, struct list_head *head)
{
	oracle_list_unlink(e);
	list_add(e, head);
}

static inline void list_move_tail(struct list_head *e, struct list_head *head)
{
	oracle_list_unlink(e);
	list_add_tail(e, head);
}

static inline int list_empty(const struct list_head *head)
{
	return head->next == head;
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(head, type, member) list_entry((head)->next, type, member)
#define list_first_entry_or_null(head, type, member) \
	(list_empty(head) ? NULL : list_first_entry(head, type, member))
#define list_next_entry(pos, member) list_entry((pos)->member.next, __typeof__(*(pos)), member)
#define list_for_each_entry(pos, head, member) \
	for (pos = list_first_entry(head, __typeof__(*pos), member); \
	     &pos->member != (head); pos = list_next_entry(pos, member))
#define list_for_each_entry_safe(pos, n, head, member) \
	for (pos = list_first_entry(head, __typeof__(*pos), member), \
	     n = list_next_entry(pos, member); \
	     &pos->member != (head); pos = n, n = list_next_entry(n, member))

#endif /* ORACLE_COMPAT_H */
