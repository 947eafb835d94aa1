// Package docs holds no code: its tests keep the documentation true. They run
// every shell block of docs/guide marked "```sh run" (on tiny data or with the
// virtual evaluator), check every link and anchor between the Markdown pages,
// and check that the .eas reference names every setting the parser accepts.
// The CLI reference (docs/reference/cli.md) is generated from the commands'
// own help by a test in internal/cli.
package docs
