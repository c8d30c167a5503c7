package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drawbridge-dev/drawbridge/deploy"
)

// newDeployCmds returns up/preview/destroy/outputs. They drive the Pulumi
// program in cmd/infra through the Automation API (package deploy), so this
// binary never links pulumi-aws; the pulumi CLI does the heavy lifting.
func newDeployCmds() []*cobra.Command {
	return []*cobra.Command{
		newDeployCmd(deploy.Up, "Create or update a stack's infrastructure (VPC, gateways, backend group)",
			"Runs the Pulumi program (cmd/infra) for stacks/Pulumi.<stack>.yaml and prints the\nstack outputs (gateway IP and URL, VPC, subnets, ASG name)."),
		newDeployCmd(deploy.Preview, "Show what up would change, without changing anything", ""),
		newDeployCmd(deploy.Destroy, "Delete every resource of a stack (needs --yes)", ""),
		newDeployCmd(deploy.Outputs, "Print a stack's outputs (gateway IP and URL, VPC, subnets, ASG name)", ""),
	}
}

func newDeployCmd(op, short, long string) *cobra.Command {
	o := deploy.Options{Op: op}
	cmd := &cobra.Command{
		Use:   op + " --stack NAME",
		Short: short,
		Long: strings.Join(slices.DeleteFunc([]string{short + ".", long, `Stacks are configured in stacks/Pulumi.<stack>.yaml (dev, staging, prod,
localstack). Needs the pulumi CLI on PATH and a backend ("pulumi login",
or "pulumi login --local" with PULUMI_CONFIG_PASSPHRASE set).`}, func(s string) bool { return s == "" }), "\n\n"),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Stack == "" {
				return usageError(fmt.Errorf("--stack is required (e.g. --stack dev)"))
			}
			ctx, stop := signalContext()
			defer stop()
			o.Stdout, o.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			err := deploy.Run(ctx, o)
			var ie *deploy.InputError
			if errors.Is(err, deploy.ErrNoCLI) || errors.As(err, &ie) {
				return usageError(err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Stack, "stack", "s", "", "stack name: stacks/Pulumi.<NAME>.yaml")
	switch op {
	case deploy.Up, deploy.Preview:
		f.StringArrayVar(&o.PolicyPacks, "policy-pack", nil, "policy pack directory to enforce, e.g. policies (repeatable)")
	case deploy.Destroy:
		f.BoolVar(&o.Yes, "yes", false, "confirm deleting every resource of the stack")
	}
	if op == deploy.Up || op == deploy.Outputs {
		f.BoolVar(&o.JSON, "json", false, "print the outputs as JSON")
	}
	return cmd
}
