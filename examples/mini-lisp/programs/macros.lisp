; macros: let, and, or, when, unless and dolist written with defmacro, and
; closures that keep private state.

(defun list (x . rest) (cons x rest))
(defun map (f l) (if l (cons (f (car l)) (map f (cdr l))) ()))

; (let ((x 1) (y 2)) body...)  =>  ((lambda (x y) body...) 1 2)
(defmacro let (bindings . body)
  (cons (cons 'lambda (cons (map car bindings) body))
        (map (lambda (b) (car (cdr b))) bindings)))

; (and a b c)  =>  (if a (and b c) ())
(defmacro and (x . rest) (if rest (list 'if x (cons 'and rest) ()) x))

; (or a b)  =>  ((lambda (G__n) (if G__n G__n (or b))) a): a is evaluated
; once, and the gensym cannot capture a variable of the caller.
(defmacro or (x . rest)
  (if rest
      ((lambda (g) (list (list 'lambda (list g) (list 'if g g (cons 'or rest))) x))
       (gensym))
    x))

(defmacro when (c . body) (list 'if c (cons (cons 'lambda (cons () body)) ()) ()))
(defmacro unless (c . body) (cons 'if (cons c (cons () body))))

(let ((x 3) (y 4)) (+ x y))
(macroexpand (let ((a 1)) a))
(and 1 2 3)
(and 1 () 3)
(or () () 5)
(or () ())
(macroexpand (when (< 1 2) 'yes))
(when (< 1 2) 'yes)
(when (< 2 1) 'yes)
(unless (< 2 1) 'a 'b)

; or evaluates each argument at most once.
(define calls 0)
(defun tick () (setq calls (+ calls 1)))
(or (tick) 'unused)
calls

; (dolist (x list) body...) runs body with x bound to each element in turn;
; the cursor is a gensym, so it cannot clash with a name in body.
(defmacro dolist (spec . body)
  ((lambda (cursor)
     (list 'let (list (list cursor (car (cdr spec))) (list (car spec) ()))
           (list 'while cursor
                 (list 'setq (car spec) (list 'car cursor))
                 (cons (cons 'lambda (cons () body)) ())
                 (list 'setq cursor (list 'cdr cursor)))))
   (gensym)))
(define total 0)
(dolist (n '(1 2 3 4)) (setq total (+ total n)))
total

; A closure with private state: a bank account.
(defun make-account (balance)
  (lambda (op amount)
    (if (eq op 'deposit) (setq balance (+ balance amount))
      (if (eq op 'withdraw)
          (if (< balance amount) 'insufficient (setq balance (- balance amount)))
        balance))))
(define acc (make-account 100))
(acc 'deposit 50)
(acc 'withdraw 30)
(acc 'withdraw 500)
(acc 'balance 0)

(defun compose (f g) (lambda (x) (f (g x))))
(defun adder (n) (lambda (x) (+ x n)))
((compose (adder 1) (adder 10)) 100)
(map (adder 5) '(1 2 3))

; A generator: each call returns the next square, (i + 1)^2 = i^2 + 2i + 1.
(defun squares () (let ((i 0) (sq 0)) (lambda () (setq sq (+ sq i i 1)) (setq i (+ i 1)) sq)))
(define next-square (squares))
(list (next-square) (next-square) (next-square) (next-square))
