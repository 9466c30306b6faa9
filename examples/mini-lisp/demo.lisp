; demo.lisp - a short tour of mini-lisp (`make run`). The value of each
; top-level expression is printed on its own line.

; Integers are 32 bits; + and - take any number of arguments.
(+ 1 2 3)
(- 10 4 3)
; Arithmetic wraps around, as C's int does on every machine we know.
(+ 2147483647 1)

; Lists are built from cells; a quote stops evaluation.
(cons 1 (cons 2 ()))
'(a b . c)
(car '(first second))
(cdr '(first second))

; define names a value, defun a function. The only false value is ().
(define answer 42)
(defun double (x) (+ x x))
(double answer)
(if (< answer 100) 'small 'big)

; Recursion: there is no *, so multiply by repeated addition.
(defun times (a b) (if (= b 0) 0 (+ a (times a (- b 1)))))
(times 6 7)
(defun fib (n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))
(fib 20)

; Functions are closures: each counter keeps its own n.
(defun make-counter () ((lambda (n) (lambda () (setq n (+ n 1)))) 0))
(define c1 (make-counter))
(define c2 (make-counter))
(c1)
(c1)
(c2)

; Macros compute code. `unless` turns into an if with the branches swapped.
(defmacro unless (c . body) (cons 'if (cons c (cons () body))))
(macroexpand (unless (< answer 0) 'positive))
(unless (< answer 0) 'positive)

; A loop that makes garbage: 200 lists of 10,000 integers, each dropped as
; soon as it is counted. Every cell and every integer is a gcheap object; the
; collector runs whenever the heap has doubled since the last collection.
(defun range (a b)
  ((lambda (l) (while (< a b) (setq b (- b 1)) (setq l (cons b l))) l) ()))
(defun length (l) ((lambda (n) (while l (setq n (+ n 1)) (setq l (cdr l))) n) 0))
(define round 0)
(define total 0)
(while (< round 200)
  (setq total (+ total (length (range 0 10000))))
  (setq round (+ round 1)))
total

; What the collector did (gc-summary is this interpreter's extension).
(gc-summary)
