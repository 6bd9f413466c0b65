// Package bytesize formats byte counts for messages, one way for the whole module.
package bytesize

import "fmt"

// String formats n bytes with a binary unit: "512 B", "1.50 KiB", "2.00 GiB".
func String(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
