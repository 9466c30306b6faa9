; Old-to-young stores at scale, with normal pacing: two thousand long-lived
; cells get fresh contents at every round, then enough garbage is made to run
; a collection every few rounds (mostly minor ones in generational mode), and
; then every cell is checked. A store that skipped the write barrier leaves a
; cell pointing at memory that the garbage reuses.
(defun churn (n) (while (< 0 n) (cons n n) (setq n (- n 1))))
(defun iota (n)
  (define l ())
  (while (< 0 n) (setq n (- n 1)) (setq l (cons n l)))
  l)
(defun refill (l round)
  (define i 0)
  (while l
    (setcar l (cons round (cons i ())))
    (setq i (+ i 1))
    (setq l (cdr l))))
; The number of cells whose car is (round i) for their index i.
(defun count-ok (l round)
  (define i 0)
  (define ok 0)
  (while l
    (if (= (car (car l)) round)
        (if (= (car (cdr (car l))) i)
            (setq ok (+ ok 1))))
    (setq i (+ i 1))
    (setq l (cdr l)))
  ok)
(define cells ())
((lambda () (setq cells (iota 2000)) 'built))
(define history ())
(define total 0)
(define round 0)
(while (< round 200)
  (refill cells round)
  (churn 30000)
  (setq total (+ total (count-ok cells round)))
  (setq history (cons (cons round (car (cdr (car cells)))) history))
  (setq round (+ round 1)))
; 200 rounds of 2000 good cells.
total
(car history)
; Every round left its entry in the global list, newest first.
(define n 0)
(define h ())
((lambda () (setq h history) 'walk))
(while h
  (if (= (car (car h)) (- 199 n)) (setq n (+ n 1)))
  (setq h (cdr h)))
n
