#!/usr/bin/env python3
# mkcorpus.py: writes the seed corpus of fuzz_heap.c into fuzz/corpus/.
# Each seed exercises one operation (or one combination) of the input format
# described at the top of fuzz_heap.c; rerun after changing that format:
#     python3 fuzz/mkcorpus.py
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


EDGES = [0, 1, 7, 8, 9, 15, 16, 17, 24, 25, 32, 33, 48, 1016, 1017, 1024,
         1025, 1152, 8192, 8193, 16384, 27264, 28672, 32767, 32768, 32769,
         40960, 65536, 65537, 81920, 1048576]


def size_bytes(sel, size):
    """The bytes read_size() decodes to size with selector sel."""
    if sel in (0, 1):
        assert 1 <= size <= 15
        return bytes([size - 1])
    if sel == 2:
        assert 16 <= size <= 271
        return bytes([size - 16])
    if sel == 3:
        assert 1 <= size <= 1024
        return u16(size - 1)
    if sel == 4:
        assert 1 <= size <= 32768
        return u16(size - 1)
    if sel == 5:
        return bytes([EDGES.index(size)])
    if sel == 6:
        assert 32769 <= size <= (1 << 20)
        return u32(size - 32769)
    assert size == 0 or size % 8192 == 0
    return bytes([0 if size == 0 else size // 8192 - 1])


def sel_for(size):
    if size == 0:
        return 7
    if size <= 15:
        return 0
    if size <= 271:
        return 2
    if size <= 1024:
        return 3
    if size <= 32768:
        return 4
    return 6


def alloc(size, scan=False, slots=0, sel=None, uninit=False):
    sel = sel_for(size) if sel is None else sel
    assert not (scan and uninit) and (scan or slots == 0)
    return bytes([0, int(scan) | sel << 1 | (slots & 15) << 4 | (0x10 if uninit else 0)]) \
        + size_bytes(sel, size)


def burst(count, size, scan=False, chain=False, root=0):
    sel = sel_for(size)
    flags = int(scan) | sel << 1 | (0x10 if chain else 0)
    return bytes([3, flags, count - 1]) + size_bytes(sel, size) + bytes([root])


def store(obj, slot, target, how=0):
    return bytes([4]) + u16(obj) + bytes([slot]) + u16(target) + bytes([how])


def store_null(obj, slot):
    return store(obj, slot, 0xFFFF)


def root(r, obj, how=0):
    return bytes([6, r]) + u16(obj) + bytes([how])


def unroot(r):
    return bytes([8, r])


def mark_root(r):
    return bytes([9, 0, r])


def mark_interior(obj, off):
    return bytes([9, 1]) + u16(obj) + u16(off)


def mark_word(w):
    return bytes([9, 2]) + u64(w)


def mark_edge(how, obj):
    return bytes([9, 3, how]) + u16(obj)


def mark_null():
    return bytes([9, 4])


def mark_range(lo, hi):
    return bytes([9, 5, lo, hi])


SWEEP = bytes([11])
COLLECT = bytes([12])


def query(sub, obj=0, arg=0):
    b = bytes([13, sub])
    if sub == 0:
        return b + u64(arg)
    if sub == 6:
        return b + bytes([arg & 0xFF])
    b += u16(obj)
    if sub in (1, 5, 7):
        b += u32(arg)
    return b


def knob(sub, v=0):
    return bytes([15, sub, v])


GOGC = lambda v: knob(0, v)
TOGGLE_TRACE = knob(1)
TOGGLE_RANGE = knob(2)
STACK_LIMIT = lambda v: knob(3, v)
VERIFY = knob(4)
DROP_ROOTS = knob(5)
FAULT = lambda v: knob(6, v)  # the (v % 32 + 1)th OS call from now fails
GEN = knob(7)  # generational mode on/off


def graph(n, size=48):
    """n scan objects, a ring through slot 0 and a skip list through slot 1."""
    b = b"".join(alloc(size, True, 2) for _ in range(n))
    for i in range(n):
        b += store(i, 0, (i + 1) % n) + store(i, 1, (i * 7 + 3) % n, 200)
    return b


SEEDS = {
    "tiny": b"".join(alloc(s) for s in (1, 2, 3, 4, 5, 7, 8, 15, 1, 1, 12))
    + root(0, 2) + root(1, 9, 255) + COLLECT + alloc(3) + COLLECT,
    "small": alloc(16, True, 2) + alloc(100, True, 4) + alloc(1000) + alloc(5000, True, 8)
    + alloc(32768) + store(0, 0, 1) + store(1, 3, 3) + root(0, 0) + COLLECT + VERIFY,
    "large": alloc(40000, True, 3) + alloc(1 << 20) + alloc(200000, True, 1) + alloc(8192 * 9, sel=7)
    + store(0, 2, 2) + root(5, 0, 180) + query(1, 0, 123456) + COLLECT + query(1, 1, 999),
    "zero": alloc(0) + alloc(0, True, sel=5) + query(6, 0, 6) + alloc(1) + COLLECT,
    "edge_sizes": b"".join(alloc(s, i & 1, 15 if i & 1 else 0, sel=5) for i, s in enumerate(EDGES))
    + root(0, 3) + root(1, 17) + COLLECT,
    "graph": graph(12) + root(0, 0) + COLLECT + unroot(0) + root(1, 5) + store_null(5, 0)
    + COLLECT + DROP_ROOTS + COLLECT,
    "manual_mark": graph(8) + alloc(24, True, 3) + root(2, 1) + mark_root(2)
    + mark_interior(8, 17) + SWEEP + alloc(48, True, 1) + SWEEP,
    "born_black": alloc(64, True, 4) + alloc(64, True, 4) + mark_interior(0, 0)
    + alloc(32, True, 2) + alloc(5) + alloc(70000, True, 2) + store(2, 0, 0) + store(4, 1, 2)
    + store(0, 3, 2) + mark_interior(1, 3) + SWEEP + COLLECT,
    "sweep_empty": alloc(7) + alloc(300, True, 2) + root(0, 1) + SWEEP + alloc(9) + SWEEP,
    "mark_range": graph(6, 96) + root(0, 0) + root(1, 3, 140) + root(9, 4)
    + mark_range(0, 10) + SWEEP + TOGGLE_RANGE + COLLECT,
    "mark_words": alloc(80, True, 2) + alloc(8000) + mark_word(0x7F0000000000)
    + mark_word((1 << 64) - 1) + mark_edge(0, 0) + mark_edge(1, 1) + mark_edge(2, 1)
    + mark_null() + SWEEP,
    "query": alloc(3) + alloc(50, True, 1) + alloc(33000) + root(0, 1)
    + b"".join(query(s, s % 3, 0x12345) for s in range(8))
    + b"".join(query(6, 0, k) for k in range(13)) + COLLECT + query(2, 0) + query(3, 1),
    "chain": burst(64, 32, True, True, 7) + burst(64, 32, True, True, 7) + COLLECT
    + mark_root(7) + SWEEP,
    "auto_gc": burst(20, 1 << 20) + burst(40, 48, True, True, 3) + burst(20, 300000, True)
    + burst(30, 200000) + root(4, 0) + burst(64, 100),
    "host_traces": TOGGLE_TRACE + graph(10) + root(0, 0) + COLLECT + mark_root(0)
    + alloc(40, True, 2) + SWEEP + burst(30, 64, True, True, 1) + COLLECT,
    "overflow": STACK_LIMIT(1) + burst(64, 16, True, True, 0) + graph(20) + root(1, 70)
    + COLLECT + STACK_LIMIT(0) + mark_root(0) + SWEEP,
    "gogc": GOGC(0) + burst(64, 32768) + root(0, 3) + burst(64, 20000, True) + GOGC(255)
    + burst(64, 30000),
    "collect_in_phase": graph(6) + root(0, 2) + mark_interior(4, 0) + alloc(16, True, 2)
    + store(6, 0, 4) + COLLECT,
    "verify": alloc(10) + alloc(600, True, 2) + VERIFY + mark_null() + VERIFY + alloc(33)
    + VERIFY + SWEEP + VERIFY,
    "tiny_blocks": b"".join(alloc(s) for s in (3, 5, 9, 2, 6, 1, 14, 4, 8, 11) * 3)
    + root(0, 4) + root(1, 17, 250) + mark_root(0) + alloc(2) + SWEEP + COLLECT,
    "interior_roots": alloc(5000, True, 8) + alloc(100000) + root(0, 0, 200) + root(1, 1, 130)
    + COLLECT + query(4, 0) + query(5, 1, 1 << 20) + COLLECT,
    "os_faults": FAULT(0) + alloc(1 << 20) + FAULT(1) + burst(30, 1 << 20, False, True, 0)
    + graph(6) + root(1, 3) + FAULT(2) + COLLECT + FAULT(0) + mark_root(1) + SWEEP
    + FAULT(4) + burst(64, 64, True, True, 2) + STACK_LIMIT(0) + FAULT(0) + COLLECT,
    "generations": GEN + graph(8) + root(0, 0) + COLLECT + COLLECT + alloc(48, True, 2)
    + store(3, 1, 8) + COLLECT + burst(40, 64, True, True, 5) + unroot(0) + COLLECT
    + store(8, 0, 9) + COLLECT + GEN + COLLECT,
    "generations_manual": GEN + graph(6) + root(0, 0) + COLLECT + COLLECT + alloc(32, True, 2)
    + store(2, 0, 6) + mark_root(0) + mark_interior(6, 0) + SWEEP + root(1, 6) + COLLECT
    + TOGGLE_TRACE + COLLECT + TOGGLE_TRACE + COLLECT + mark_root(1) + SWEEP,
    "uninit": b"".join(alloc(s, uninit=True) for s in (16, 48, 1000, 5000, 32768, 40000, 3))
    + root(0, 1) + root(1, 3) + COLLECT + b"".join(alloc(s) for s in (48, 1000, 5000, 16))
    + b"".join(alloc(s, uninit=True) for s in (48, 1000)) + mark_root(0) + SWEEP
    + b"".join(alloc(s) for s in (48, 1000, 5000)) + COLLECT,
    "mixed": graph(5) + burst(10, 7) + root(0, 2) + mark_root(0) + burst(5, 48, True, True, 1)
    + SWEEP + TOGGLE_TRACE + root(2, 3) + COLLECT + TOGGLE_TRACE + STACK_LIMIT(2) + COLLECT
    + query(0, 0, 0) + GOGC(50) + burst(50, 70000) + COLLECT,
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(OUT, "seed-" + name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()
