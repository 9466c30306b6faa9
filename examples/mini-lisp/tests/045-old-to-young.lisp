; Fresh objects stored into old ones. In generational mode a minor collection
; does not trace objects that survived an earlier one, so the interpreter
; must pass every such store through the write barrier (THE BARRIER RULE in
; lisp.h). Under MINILISP_ALWAYS_GC every allocation collects, so anything
; allocated before the store is old; a missing barrier then frees the stored
; object, and the reads at the end find poisoned memory.

; Allocates n throwaway cells: collections in between a store and its check.
(defun churn (n) (while (< 0 n) (cons n n) (setq n (- n 1))))

; (0 1 ... n-1). define adds to the call's scope after allocations; each setq
; then stores into that older binding.
(defun iota (n)
  (define l ())
  (while (< 0 n) (setq n (- n 1)) (setq l (cons n l)))
  l)

; setcar into long-lived cells, twice per cell per round.
(define cells (iota 12))
(defun refill (l round)
  (define i 0)
  (while l
    (setcar l (cons 'stale ()))
    (setcar l (cons round (cons i ())))
    (setq i (+ i 1))
    (setq l (cdr l))))
(define r 0)
(while (< r 6) (refill cells r) (churn 3) (setq r (+ r 1)))
(churn 20)
cells

; setq of a global (its symbol is old) to a growing list.
(define stack ())
(define k 0)
(while (< k 20) (setq stack (cons (cons k k) stack)) (churn 2) (setq k (+ k 1)))
(churn 20)
stack

; setq of a captured parameter: the closure's scope is old.
(defun make-acc () ((lambda (acc) (lambda (x) (setq acc (cons x acc)))) ()))
(define acc (make-acc))
(setq k 0)
(while (< k 10) (acc (cons k (cons k ()))) (churn 2) (setq k (+ k 1)))
(churn 20)
(acc 'last)

; define, again and again, into a scope made before the loop.
(defun defs-loop (n)
  (define acc ())
  (while (< 0 n)
    (define tmp (cons n acc))
    (setq acc tmp)
    (churn 2)
    (setq n (- n 1)))
  (churn 20)
  acc)
(defs-loop 10)

; A rest list is stored into its scope after the conses that build it.
(defun keep-rest (a . r) (churn 20) (cons a r))
(keep-rest (cons 1 1) (cons 2 2) (cons 3 3) (cons 4 4))

; The reader appends at the tail of the list it is reading.
(define quoted '(a b c (d e (f g) h) i j k l m n o p . q))
(churn 20)
quoted

; A symbol's name is allocated after the symbol.
(define gs (gensym))
(churn 20)
gs
(define fresh-name 'a-symbol-name-read-only-here)
(churn 20)
fresh-name

; A global function defined late, and a closure chain hanging from a global.
(defun compose (f g) (lambda (x) (f (g x))))
(defun inc (x) (+ x 1))
(define f inc)
(setq k 0)
(while (< k 30) (setq f (compose inc f)) (churn 2) (setq k (+ k 1)))
(churn 20)
(f 0)
