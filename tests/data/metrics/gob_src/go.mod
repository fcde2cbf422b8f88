module example.com/gob

go 1.19
