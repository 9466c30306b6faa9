(println 'first)
(car 'x)
(println 'never)
