// binary_trees.go: binary_trees.c for Go's runtime (same shape, same
// checksum), to compare gcheap with the collector whose allocator it ports.
// run.sh runs it with GOMAXPROCS=1 and 2 and the default GOGC=100.
//
//	binary_trees_go DEPTH
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
)

type node struct {
	left, right *node
}

// Children before their parent, as binary_trees.c builds them.
func build(depth int) *node {
	if depth == 0 {
		return &node{}
	}
	l := build(depth - 1)
	r := build(depth - 1)
	return &node{l, r}
}

func (n *node) check() uint64 {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func main() {
	max := 19
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil {
			max = v
		}
	}
	if max < 6 {
		max = 6
	}
	var checksum uint64

	c := build(max + 1).check()
	checksum += c
	fmt.Printf("stretch tree of depth %d\t check: %d\n", max+1, c)

	lived := build(max)
	for d := 4; d <= max; d += 2 {
		iterations := uint64(1) << uint(max-d+4)
		c = 0
		for i := uint64(0); i < iterations; i++ {
			c += build(d).check()
		}
		checksum += c
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iterations, d, c)
	}
	c = lived.check()
	checksum += c
	fmt.Printf("long lived tree of depth %d\t check: %d\n", max, c)

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("RESULT checksum=%d gcs=%d gc_ms=%.1f allocator=%s/GOMAXPROCS=%d\n",
		checksum, ms.NumGC, float64(ms.PauseTotalNs)/1e6, runtime.Version(),
		runtime.GOMAXPROCS(0))
}
