'ok
'