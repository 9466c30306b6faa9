(defun one (a) a)
(one 1 2)
