// Package archtest holds tests of the module's import graph: the rules a
// reviewer would otherwise have to remember (gateway and autoscaler do not
// import each other; only the wiring mixes gateway internals with AWS SDK
// services). It has no code of its own.
package archtest
