(car ())
