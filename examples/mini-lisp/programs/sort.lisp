; sort: merge sort of 5,000 pseudo-random integers.
;
; The dialect has + and - but no *, / or mod, and arithmetic wraps at 32
; bits. That is all a linear congruential generator needs:
;     x' = 69069 x + 1  (mod 2^32)
; where the product is done by shift-and-add over the bits of 69069 and the
; mod 2^32 is the wrapping itself.

(defun list (x . rest) (cons x rest))
(defmacro progn (first . rest) (list (cons 'lambda (cons () (cons first rest)))))

; 69069 in binary, most significant bit first.
(define bits '(1 0 0 0 0 1 1 0 1 1 1 0 0 1 1 0 1))

(defun times69069 (x)
  ((lambda (r b)
     (while b
       (setq r (+ r r))
       (if (= (car b) 1) (setq r (+ r x)))
       (setq b (cdr b)))
     r)
   0 bits))

(define seed 42)
(defun next-random () (setq seed (+ (times69069 seed) 1)))

; x mod 10000 for 0 <= x < 2^31: subtract 10000 * 2^k for k = 17 down to 0.
(define multiples '(1310720000 655360000 327680000 163840000 81920000 40960000
                    20480000 10240000 5120000 2560000 1280000 640000 320000
                    160000 80000 40000 20000 10000))
(defun mod10000 (x)
  ; Fold negative values into 0 .. 2^31 - 1 first: x + 2^31 wraps there.
  (if (< x 0) (setq x (+ x 2147483647 1)))
  ((lambda (m)
     (while m
       (if (< x (car m)) () (setq x (- x (car m))))
       (setq m (cdr m)))
     x)
   multiples))

(defun randoms (n)
  ((lambda (l)
     (while (< 0 n)
       (setq l (cons (mod10000 (next-random)) l))
       (setq n (- n 1)))
     l)
   ()))

; (revappend '(3 2 1) '(4 5)) is (1 2 3 4 5).
(defun revappend (acc tail)
  (while acc (setq tail (cons (car acc) tail)) (setq acc (cdr acc)))
  tail)

; Merges two sorted lists; equal elements keep their order (stable).
(defun merge (a b)
  ((lambda (acc)
     (while (if a b ())
       (if (< (car b) (car a))
           (progn (setq acc (cons (car b) acc)) (setq b (cdr b)))
         (setq acc (cons (car a) acc))
         (setq a (cdr a))))
     (revappend acc (if a a b)))
   ()))

; Deals l into two halves, sorts each, merges them.
(defun msort (l)
  (if (if l (cdr l) ())
      ((lambda (a b)
         (while l
           (setq a (cons (car l) a))
           (setq l (cdr l))
           ((lambda (tmp) (setq a b) (setq b tmp)) a))
         (merge (msort a) (msort b)))
       () ())
    l))

(defun sorted? (l)
  ((lambda (ok)
     (while (if ok (cdr l) ())
       (if (< (car (cdr l)) (car l)) (setq ok ()))
       (setq l (cdr l)))
     ok)
   t))

(defun length (l) ((lambda (n) (while l (setq n (+ n 1)) (setq l (cdr l))) n) 0))
(defun sum (l) ((lambda (s) (while l (setq s (+ s (car l))) (setq l (cdr l))) s) 0))
(defun take (n l) (if (if l (< 0 n) ()) (cons (car l) (take (- n 1) (cdr l))) ()))
(defun drop (n l) (while (if l (< 0 n) ()) (setq l (cdr l)) (setq n (- n 1))) l)

; Top-level values are printed, so the lists are made inside a function.
(define input ())
(define output ())
((lambda () (setq input (randoms 5000)) (setq output (msort input)) 'sorted))
(take 10 input)
(length output)
(sorted? input)
(sorted? output)
(= (sum input) (sum output))
(take 10 output)
(drop 4990 output)
