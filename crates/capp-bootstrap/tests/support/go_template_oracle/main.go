// Renders a template file with Go's text/template exactly as the Go provider did
// (cluster-api-provider-packet pkg/cloud/packet/client.go, NewDevice):
// template.New("user-data").Parse(userData), then Execute with a map[string]interface{}.
//
// Usage: oracle <template-file> <values-json>; the rendered text goes to stdout, parse and
// execution errors to stderr with exit status 2 and 3.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: oracle <template-file> <values-json>")
		os.Exit(1)
	}
	userData, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	userDataValues := map[string]interface{}{}
	if err := json.Unmarshal([]byte(os.Args[2]), &userDataValues); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpl, err := template.New("user-data").Parse(string(userData))
	if err != nil {
		fmt.Fprintf(os.Stderr, "error parsing userdata template: %v\n", err)
		os.Exit(2)
	}
	stringWriter := &strings.Builder{}
	if err := tmpl.Execute(stringWriter, userDataValues); err != nil {
		fmt.Fprintf(os.Stderr, "error executing userdata template: %v\n", err)
		os.Exit(3)
	}
	os.Stdout.WriteString(stringWriter.String())
}
