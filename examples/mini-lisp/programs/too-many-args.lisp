; A call with more arguments than the value stack holds (2^20), built by a
; macro since the source would be 2 MB: an error naming the value stack,
; not the C stack's "stack overflow".
(defun ones (n acc) (while (< 0 n) (setq acc (cons 1 acc)) (setq n (- n 1))) acc)
(defmacro big () (cons '+ (ones 1048577 ())))
(println 'before)
(big)
(println 'never)
