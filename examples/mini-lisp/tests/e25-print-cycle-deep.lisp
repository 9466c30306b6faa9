; A cycle through the third element of a list nested 40 deep: the printer
; finds it after going round it at least once (at depth 64 + 41), and stops.
(define a (cons 1 (cons 2 (cons 3 ()))))
(define d a)
(define i 0)
(while (< i 40) (setq d (cons d ())) (setq i (+ i 1)))
(setcar (cdr (cdr a)) d)
(println 'never)
