; A list of ten million integers: built with a loop, then walked by loops.
; Every integer is its own tiny gcheap object and every cell a 24-byte one;
; the collector must mark this 30-million-object graph without recursing.
(define n 10000000)
(define l ())
(define i 0)
(while (< i n) (setq l (cons i l)) (setq i (+ i 1)))
(defun sum (l) ((lambda (s) (while l (setq s (+ s (car l))) (setq l (cdr l))) s) 0))
(defun len (l) ((lambda (k) (while l (setq k (+ k 1)) (setq l (cdr l))) k) 0))
; 0 + 1 + ... + 9999999 = 49999995000000, which wraps to -2014260032.
(sum l)
(len l)
(car l)
(setq l ())
