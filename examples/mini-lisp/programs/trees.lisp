; trees: GCBench-style binary trees. Complete trees of depth 4 to 14 are
; built, counted and dropped, 2^(18 - depth) of each depth, so every depth
; makes about half a million nodes of garbage; meanwhile a tree of depth 14
; stays alive, so each collection has a live structure to mark as well.
; A tree is a cell (left . right); a leaf is (() . ()).

(defun list (x . rest) (cons x rest))
(defun make (d) (if (= d 0) (cons () ()) (cons (make (- d 1)) (make (- d 1)))))
(defun check (tree) (if (car tree) (+ 1 (+ (check (car tree)) (check (cdr tree)))) 1))
(defun pow2 (k) ((lambda (r) (while (< 0 k) (setq r (+ r r)) (setq k (- k 1))) r) 1))

(define min-depth 4)
(define max-depth 14)

; A stretch tree, one deeper than the deepest, made and dropped at once.
(list 'stretch (+ max-depth 1) (check (make (+ max-depth 1))))

(define long-lived ())
((lambda () (setq long-lived (make max-depth)) 'built))

(defun run (d)
  ((lambda (trees i total)
     (while (< i trees)
       (setq total (+ total (check (make d))))
       (setq i (+ i 1)))
     (list 'depth d 'trees trees 'check total))
   (pow2 (+ (- max-depth d) min-depth)) 0 0))

(define d min-depth)
(while (< d (+ max-depth 1)) (println (run d)) (setq d (+ d 2)))

; Still all there: 2^15 - 1 nodes.
(list 'long-lived max-depth (check long-lived))
