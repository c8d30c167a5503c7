package main

import "github.com/spf13/cobra"

func newAutoscalerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "autoscaler",
		Short: "Run the autoscaler daemon, explain its decisions, or backtest policies on a trace",
	}
	cmd.AddCommand(newAutoscalerRunCmd(), newAutoscalerExplainCmd(), newAutoscalerSimulateCmd())
	addLogLevelFlag(cmd)
	return cmd
}
