/*
 * Plain bit-by-bit bitmap helpers written for this project, used instead of
 * the kernel's lib/find_bit.c / include/linux/find.h / lib/bitmap.c when the
 * oracle is built with --bitops own (e.g. for a kernel tree whose helpers do
 * not extract cleanly).  Contracts, as the percpu code relies on them:
 *
 *  find_next_bit(map, size, off)       first set bit in [off, size), else size
 *  find_next_zero_bit(map, size, off)  first clear bit in [off, size), else size
 *  find_last_bit(map, size)            last set bit in [0, size), else size
 *  bitmap_set/bitmap_clear(map, s, n)  set/clear bits [s, s + n)
 *  bitmap_fill(map, n)                 set every bit of the words holding n bits
 *                                      (whole words, like the kernel's memset)
 *  for_each_clear_bitrange(_from)(b, e, map, size)
 *      visits each maximal clear run [b, e) with b < size; after a run the
 *      search resumes at e + 1 (bit e is known to be set).
 *  for_each_set_bitrange(b, e, map, size)  same for set runs.
 */
#ifndef ORACLE_BITOPS_OWN_H
#define ORACLE_BITOPS_OWN_H

static inline unsigned long find_next_bit(const unsigned long *map, unsigned long size,
					  unsigned long off)
{
	for (; off < size; off++)
		if (test_bit(off, map))
			return off;
	return size;
}

static inline unsigned long find_next_zero_bit(const unsigned long *map, unsigned long size,
					       unsigned long off)
{
	for (; off < size; off++)
		if (!test_bit(off, map))
			return off;
	return size;
}

static inline unsigned long find_last_bit(const unsigned long *map, unsigned long size)
{
	unsigned long i;

	for (i = size; i > 0; i--)
		if (test_bit(i - 1, map))
			return i - 1;
	return size;
}

static inline void bitmap_set(unsigned long *map, unsigned int start, unsigned int nbits)
{
	unsigned int i;

	for (i = 0; i < nbits; i++)
		__set_bit(start + i, map);
}

static inline void bitmap_clear(unsigned long *map, unsigned int start, unsigned int nbits)
{
	unsigned int i;

	for (i = 0; i < nbits; i++)
		__clear_bit(start + i, map);
}

static inline void bitmap_fill(unsigned long *map, unsigned int nbits)
{
	unsigned long i;

	for (i = 0; i < BITS_TO_LONGS(nbits); i++)
		map[i] = ~0UL;
}

#define for_each_clear_bitrange_from(b, e, map, size) \
	for (; ((b) = find_next_zero_bit((map), (size), (b))) < (size) && \
	       ((e) = find_next_bit((map), (size), (b) + 1), 1); \
	     (b) = (e) + 1)

#define for_each_clear_bitrange(b, e, map, size) \
	for ((b) = 0; ((b) = find_next_zero_bit((map), (size), (b))) < (size) && \
	       ((e) = find_next_bit((map), (size), (b) + 1), 1); \
	     (b) = (e) + 1)

#define for_each_set_bitrange(b, e, map, size) \
	for ((b) = 0; ((b) = find_next_bit((map), (size), (b))) < (size) && \
	       ((e) = find_next_zero_bit((map), (size), (b) + 1), 1); \
	     (b) = (e) + 1)

#endif /* ORACLE_BITOPS_OWN_H */
