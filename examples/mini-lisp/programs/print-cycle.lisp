; The printer's cycle error, checked to the message (the conformance tests'
; eNN runner checks only that stderr is not empty): a dotted list whose
; second cell's car is the list itself.
(define a (cons 1 (cons 2 3)))
(setcar (cdr a) a)
(println 'never)
