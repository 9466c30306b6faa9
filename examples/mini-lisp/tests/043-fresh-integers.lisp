; Integers are fresh objects: equal values are = but never eq.
(eq 1 1)
(define a 5)
(eq a a)
(= a 5)
(eq (+ a 0) a)
