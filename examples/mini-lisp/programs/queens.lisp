; queens: count the ways to place n queens on an n x n board, none attacking
; another, by backtracking. A partial solution is the list of the columns of
; the queens placed so far, the latest first.

; Does a queen in column col clash with the queens placed, the nearest of
; which is one row up (k = 1)?
(defun safe (col placed k)
  (if placed
      (if (= (car placed) col) ()
        (if (= (- (car placed) col) k) ()
          (if (= (- col (car placed)) k) ()
            (safe col (cdr placed) (+ k 1)))))
    t))

; The number of ways to complete placed, which has row queens, to n.
(defun solve (n row placed)
  (if (= row n) 1
    ((lambda (col count)
       (while (< col n)
         (if (safe col placed 1)
             (setq count (+ count (solve n (+ row 1) (cons col placed)))))
         (setq col (+ col 1)))
       count)
     0 0)))

(defun queens (n) (solve n 0 ()))

; n = 1 .. 8: 1 0 0 2 10 4 40 92.
(defun upto (i n) (if (< n i) () (cons (queens i) (upto (+ i 1) n))))
(upto 1 8)
(queens 8)
