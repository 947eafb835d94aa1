// Package docs holds no code: its tests keep the documentation true. They run
// every shell block of docs/guide marked "```sh run" (on tiny data or with the
// virtual evaluator) and check every link and anchor between the Markdown
// pages. Tests next to the code keep the references true: internal/cli
// regenerates docs/reference/cli.md from the commands' own help, and dsl checks
// that docs/reference/eas.md names every setting and prints the grammar.
package docs
