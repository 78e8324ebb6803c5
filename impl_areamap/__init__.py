"""The area-map allocator that mm/percpu.c used before the bitmap allocator (Linux <= 4.13)."""
