module example.com/linestat

go 1.19
