; Shared structure is not a cycle: the same cells appear many times in the
; output, but never twice on one path from the top (the printer compares the
; cell at each depth with the one at the power of two below it; 100 deep).
(define s (cons 7 (cons 8 ())))
(define d ())
(define i 0)
(while (< i 100) (setq d (cons d s)) (setq i (+ i 1)))
d
(define p (cons s (cons s (cons s ()))))
(cons p (cons p p))
