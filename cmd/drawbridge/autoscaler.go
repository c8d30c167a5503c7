package main

import "github.com/spf13/cobra"

func newAutoscalerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "autoscaler",
		Short: "Run the autoscaler daemon, validate its config, explain its decisions, or backtest policies on a trace",
	}
	validate := newValidateCmd("autoscaler", func(path string) error {
		_, err := loadAutoscalerConfig(path)
		return err
	})
	cmd.AddCommand(newAutoscalerRunCmd(), validate, newAutoscalerExplainCmd(), newAutoscalerSimulateCmd())
	addLogLevelFlag(cmd)
	return cmd
}
