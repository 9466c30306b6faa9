; Arithmetic wraps as 32-bit two's complement.
(+ 2147483647 1)
(- -2147483647 2)
(- (- 0 2147483647) 1)
(+ 2000000000 2000000000)
(- -2147483648)
(< 2147483647 (+ 2147483647 1))
; So do integer literals out of range.
2147483648
4294967296
