; define inside a function adds to the function's scope, shadowing a parameter.
(defun f (x) (define x 10) x)
(f 1)
; A rest parameter is a variable like the others.
(defun g (a . r) (setq r (cons 'new r)) r)
(g 1 2 3)
(defun h () (define local 5) local)
(h)
; Two closures sharing one binding.
(defun mk () ((lambda (n) (cons (lambda () (setq n (+ n 1))) (lambda () n))) 0))
(define pair (mk))
((car pair))
((car pair))
((cdr pair))
; setq of a parameter does not touch the global of the same name.
(define x 'global)
(defun shadow (x) (setq x 'changed) x)
(shadow 1)
x
