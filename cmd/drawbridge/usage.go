package main

import (
	"fmt"
	"strings"

	"github.com/agnivade/levenshtein"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// execute runs root with one rule for usage errors: a mistyped subcommand
// (at any level, with "did you mean"), an unknown flag, a bad argument
// count and a missing required flag all exit 2, like the commands' own
// input checks (usageError).
//
// Cobra alone does not do this: it suggests only below the root, a command
// group given an unknown subcommand prints its help and exits 0, and its
// flag and argument errors exit 1. The tree is adjusted here, at execution,
// because cobra adds its help and completion commands only then (and the
// completion scripts bind the output writer when they are created).
func execute(root *cobra.Command) error {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	root.SetFlagErrorFunc(flagError)
	strictUsage(root)
	return root.Execute()
}

func strictUsage(c *cobra.Command) {
	// Cobra's own default, which SuggestionsFor does not apply by itself.
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	switch {
	case c.Name() == "help" && c.HasParent():
		strictHelp(c)
	case c.HasSubCommands() && !c.Runnable():
		// A group: no arguments shows its help, anything else was meant
		// to be one of its subcommands.
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return unknownCommand(cmd, args[0])
		}
	}
	if validate := c.Args; validate != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := validate(cmd, args); err != nil {
				return usageError(err)
			}
			return nil
		}
	}
	// Cobra checks required flags after PreRunE, and reports them with
	// exit 1; check them here first.
	if c.Runnable() && c.PreRunE == nil && c.PreRun == nil {
		c.PreRunE = func(cmd *cobra.Command, _ []string) error {
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return usageError(err)
			}
			if err := cmd.ValidateFlagGroups(); err != nil {
				return usageError(err)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		strictUsage(sub)
	}
}

// strictHelp makes `drawbridge help gatewy` a usage error with a suggestion
// instead of "Unknown help topic" and exit 0.
func strictHelp(help *cobra.Command) {
	show := help.Run
	help.Run = nil
	help.RunE = func(cmd *cobra.Command, args []string) error {
		target, rest, err := cmd.Root().Find(args)
		if err != nil {
			return usageError(err)
		}
		if len(rest) > 0 {
			return unknownCommand(target, rest[0])
		}
		show(cmd, args)
		return nil
	}
}

// unknownCommand is cobra's own message for the root, at any level.
func unknownCommand(parent *cobra.Command, typed string) error {
	msg := fmt.Sprintf("unknown command %q for %q", typed, parent.CommandPath())
	if s := parent.SuggestionsFor(typed); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	msg += fmt.Sprintf("\n\nRun '%s --help' for usage.", parent.CommandPath())
	return usageError(fmt.Errorf("%s", msg))
}

// flagError makes a flag error a usage error and, for an unknown long flag,
// names the command's flags within the distance cobra uses for subcommands,
// or that it is a prefix of.
func flagError(cmd *cobra.Command, err error) error {
	// `drawbridge gateway valdate --config x`: the flag is unknown only
	// because the subcommand is mistyped; say so, as cobra does at the root.
	if args := cmd.Flags().Args(); cmd.HasSubCommands() && len(args) > 0 {
		return unknownCommand(cmd, args[0])
	}
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return usageError(err)
	}
	name, _, _ = strings.Cut(name, "=")
	var near []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if levenshtein.ComputeDistance(name, f.Name) <= 2 || strings.HasPrefix(f.Name, name) {
			near = append(near, "--"+f.Name)
		}
	})
	msg := fmt.Sprintf("%v for %q", err, cmd.CommandPath())
	if len(near) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(near, "\n\t")
	}
	return usageError(fmt.Errorf("%s", msg))
}
