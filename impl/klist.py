"""Port of include/linux/list.h: the intrusive doubly linked list.

The slot lists are real circular lists with a sentinel head, so that the
iteration semantics the allocator relies on (``list_for_each_entry_safe``
fetching the next node before the body runs) are the kernel's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class ListHead:
    """Port of include/linux/types.h: struct list_head, plus its owner."""

    __slots__ = ("prev", "next", "owner")

    def __init__(self, owner: Any = None) -> None:
        self.prev: ListHead = self
        self.next: ListHead = self
        self.owner = owner


def INIT_LIST_HEAD(head: ListHead) -> None:
    """Port of include/linux/list.h: INIT_LIST_HEAD()."""
    head.prev = head
    head.next = head


def __list_add(new: ListHead, prev: ListHead, next: ListHead) -> None:
    next.prev = new
    new.next = next
    new.prev = prev
    prev.next = new


def list_add(new: ListHead, head: ListHead) -> None:
    """Port of include/linux/list.h: list_add()."""
    __list_add(new, head, head.next)


def list_add_tail(new: ListHead, head: ListHead) -> None:
    """Port of include/linux/list.h: list_add_tail()."""
    __list_add(new, head.prev, head)


def __list_del_entry(entry: ListHead) -> None:
    entry.next.prev = entry.prev
    entry.prev.next = entry.next


def list_del_init(entry: ListHead) -> None:
    """Port of include/linux/list.h: list_del_init()."""
    __list_del_entry(entry)
    INIT_LIST_HEAD(entry)


def list_move(entry: ListHead, head: ListHead) -> None:
    """Port of include/linux/list.h: list_move(): to the front of ``head``."""
    __list_del_entry(entry)
    list_add(entry, head)


def list_move_tail(entry: ListHead, head: ListHead) -> None:
    """Port of include/linux/list.h: list_move_tail(): to the back of ``head``."""
    __list_del_entry(entry)
    list_add_tail(entry, head)


def list_empty(head: ListHead) -> bool:
    """Port of include/linux/list.h: list_empty()."""
    return head.next is head


def list_first_entry_or_null(head: ListHead) -> Any:
    """Port of include/linux/list.h: list_first_entry_or_null()."""
    return None if head.next is head else head.next.owner


def list_for_each_entry(head: ListHead) -> Iterator[Any]:
    """Port of include/linux/list.h: list_for_each_entry(); next read after the body."""
    pos = head.next
    while pos is not head:
        yield pos.owner
        pos = pos.next


def list_for_each_entry_safe(head: ListHead) -> Iterator[Any]:
    """Port of include/linux/list.h: list_for_each_entry_safe(); next read before the body."""
    pos = head.next
    while pos is not head:
        nxt = pos.next
        yield pos.owner
        pos = nxt


def list_entries(head: ListHead) -> list[Any]:
    """Harness helper: the owners on a list, front to back."""
    return list(list_for_each_entry(head))
