// Command gen writes the config references under docs/ (run by
// `go generate ./internal/configdoc`).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/drawbridge-dev/drawbridge/internal/configdoc"
)

func main() {
	root, module, err := configdoc.ModuleRoot(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
	for _, d := range configdoc.Docs {
		b, err := configdoc.Render(d, root, module)
		if err != nil {
			fmt.Fprintf(os.Stderr, "configdoc: %s: %v\n", d.File, err)
			os.Exit(1)
		}
		path := filepath.Join(root, "docs", d.File)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "configdoc:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", path)
	}
}
