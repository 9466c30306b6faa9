; A cell whose car is itself: printing it would never end. The printer
; reports the cycle at depth 2, where it meets the cell a second time.
(define x (cons 1 2))
(println 'before)
(setcar x x)
(println 'never)
