; fib: the doubly recursive Fibonacci function. Each call makes a scope and
; each + a fresh integer, so this is mostly short-lived garbage: (fib 25)
; alone makes about 250,000 calls.
(defun fib (n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))

; The first fifteen, as a list.
(defun fibs (i n) (if (< i n) (cons (fib i) (fibs (+ i 1) n)) ()))
(fibs 0 15)

(fib 20)
(fib 25)
