package gob

func Sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func Box(n int) *[]int {
	xs := make([]int, n)
	return &xs
}
