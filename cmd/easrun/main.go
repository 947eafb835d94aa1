// Command easrun is eas's command-line tool; everything lives in internal/cli.
package main

import (
	"os"

	"github.com/eas-go/eas/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
