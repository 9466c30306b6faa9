; A recursion that never ends must stop with "stack overflow", not a crash.
; Each level allocates only its scope and uses much C stack for it (the
; nested ifs), so the test stays quick when every allocation collects
; (MINILISP_ALWAYS_GC): each collection marks the whole deep stack.
(defun down () (if t (if t (if t (if t (if t (if t (+ 1 (down)))))))))
'before
(down)
'never-printed
