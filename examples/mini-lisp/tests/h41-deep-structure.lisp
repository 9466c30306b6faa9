; A chain of a million cars, ((((...)))), kept alive while garbage forces
; collections: marking must not recurse on the structure's depth.
(define deep ())
(define i 0)
(while (< i 1000000) (setq deep (cons deep ())) (setq i (+ i 1)))
(define j 0)
(while (< j 300000) (cons j (cons j j)) (setq j (+ j 1)))
(defun depth (x) ((lambda (d) (while x (setq d (+ d 1)) (setq x (car x))) d) 0))
(depth deep)
; Printing it is iterative too; print one that is a thousand deep.
(define small ())
(setq i 0)
(while (< i 1000) (setq small (cons small ())) (setq i (+ i 1)))
(depth small)
small
