// prog.c: a program built outside the tree against an installed gcheap (see
// `make check-install`): proves that the installed header, libraries and
// gcheap.pc are enough to compile, link and run, shared and static.
#include <gcheap.h>

#include <stdio.h>

int main(void)
{
    unsigned char *p = gc_alloc(100, true);
    if (p == NULL) {
        printf("gc_alloc(100, true) returned NULL\n");
        return 1;
    }
    for (size_t i = 0; i < 100; i++) {
        if (p[i] != 0) {
            printf("gc_alloc(100, true): byte %zu is %d, want 0\n", i, p[i]);
            return 1;
        }
    }
    // 100 bytes round up to the 112-byte size class.
    size_t size = gc_size(p);
    if (size != 112) {
        printf("gc_size: got %zu, want 112\n", size);
        return 1;
    }
    void *base = gc_base(p + 57);
    if (base != p) {
        printf("gc_base(p + 57): got %p, want %p\n", base, (void *)p);
        return 1;
    }
    printf("ok\n");
    return 0;
}
