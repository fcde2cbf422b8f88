package linestat

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestSumColumns(t *testing.T) {
	cases := []struct {
		lines []string
		want  []int
	}{
		{[]string{"1,2,3", "4,5,6"}, []int{5, 7, 9}},
		{[]string{"1", "2,3", "-4,x,10"}, []int{-1, 3, 10}},
		{[]string{"", "7,,8"}, []int{7, 0, 8}},
		{nil, nil},
	}
	for _, c := range cases {
		if got := SumColumns(c.lines); !reflect.DeepEqual(got, c.want) {
			t.Errorf("SumColumns(%q) = %v, want %v", c.lines, got, c.want)
		}
	}
}

func TestSplitFields(t *testing.T) {
	got := splitFields("a,,b,")
	want := []string{"a", "", "b", ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("splitFields = %q, want %q", got, want)
	}
}

func TestAtoi(t *testing.T) {
	for in, want := range map[string]int{"42": 42, "-7": -7, "+3": 3, "": 0, "4x": 0, "-": 0} {
		if got := atoi(in); got != want {
			t.Errorf("atoi(%q) = %d, want %d", in, got, want)
		}
	}
}

// benchLines is a fixed input: 500 short lines of three columns.
var benchLines = func() []string {
	lines := make([]string, 500)
	for i := range lines {
		lines[i] = strings.Join([]string{strconv.Itoa(i), strconv.Itoa(i % 7), "1"}, ",")
	}
	return lines
}()

func BenchmarkSumColumns(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		SumColumns(benchLines)
	}
}
