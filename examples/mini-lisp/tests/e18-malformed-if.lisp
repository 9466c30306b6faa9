'ok
(if)
