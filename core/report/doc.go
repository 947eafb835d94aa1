// Package report owns what a finished (or running) search shows: tables in
// the paper's style (tablewriter for text, plus Markdown and CSV), and plots
// (gonum/plot, PNG and SVG) like the paper's Figure 4 (accuracy of every
// sampled network, running best, start point) and Figure 5 (RL versus random
// search). It reads run directories through core/store and imports nothing
// else of eas but core/experiment.
package report
