// Package linestat sums the numeric columns of comma-separated lines.
package linestat

import "strings"

// SumColumns adds up, column by column, the integers of comma-separated
// lines. A line may have fewer columns than others; a field that is not a
// number counts as 0.
func SumColumns(lines []string) []int {
	var sums []int
	for _, line := range lines {
		fields := splitFields(line)
		for i, field := range fields {
			for len(sums) <= i {
				sums = append(sums, 0)
			}
			sums[i] += atoi(field)
		}
	}
	return sums
}

// splitFields splits a line at its commas into a slice sized for it.
func splitFields(line string) []string {
	fields := make([]string, 0, strings.Count(line, ",")+1)
	start := 0
	for i := 0; i < len(line); i++ {
		if line[i] == ',' {
			fields = append(fields, line[start:i])
			start = i + 1
		}
	}
	return append(fields, line[start:])
}

// atoi reads a decimal integer with an optional sign; anything else is 0.
func atoi(s string) int {
	if s == "" {
		return 0
	}
	sign, i := 1, 0
	if s[0] == '-' || s[0] == '+' {
		if s[0] == '-' {
			sign = -1
		}
		i = 1
	}
	n := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return sign * n
}
