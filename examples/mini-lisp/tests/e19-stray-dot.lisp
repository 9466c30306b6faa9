'ok
.
