package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drawbridge-dev/drawbridge/infra/boot"
)

// newRenderCmd writes what a stack's gateway instances would install,
// without the pulumi CLI and without deploying.
func newRenderCmd() *cobra.Command {
	var stack, out, root string
	cmd := &cobra.Command{
		Use:   "render --stack NAME --out DIR",
		Short: "Write the files a stack's gateway instances install (configs, systemd units, user data)",
		Long: `Render what user data installs on the stack's gateway instances, from
stacks/Pulumi.<stack>.yaml: DIR/etc/drawbridge/gateway.yaml, the autoscaler
config, the systemd units under DIR/etc/systemd/system, and DIR/user-data.sh.
Values known only after deploy are shown as the references they resolve from,
e.g. ${gateway-eip.allocationId}. A stack whose generated config would be
invalid fails here, naming the stack key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stack == "" || out == "" {
				return usageError(fmt.Errorf("--stack and --out are required"))
			}
			if root == "" {
				var err error
				if root, err = boot.FindRoot(); err != nil {
					return err
				}
			}
			cfg, err := boot.LoadStack(root, stack)
			if err != nil {
				return err
			}
			b, err := boot.Render(cfg, boot.References, root)
			if err != nil {
				return fmt.Errorf("stack %s:\n%w", stack, err)
			}
			bin := boot.Binary{URL: cfg.BinaryURL, SHA256: cfg.BinarySHA256}
			if bin.URL == "" {
				bin.S3Bucket, bin.S3Key = boot.References.BinaryBucket, boot.References.BinaryKey
			}
			ud, err := boot.RenderUserData(boot.UserData{Region: cfg.Region, Binary: bin, TLSSource: cfg.TLSCertificateSource, Bundle: b})
			if err != nil {
				return err
			}
			if err := b.Write(out, ud); err != nil {
				return err
			}
			for _, f := range b.Files {
				fmt.Fprintln(cmd.OutOrStdout(), f.Path)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "user-data.sh")
			return nil
		},
	}
	cmd.Flags().StringVar(&stack, "stack", "", "stack name (stacks/Pulumi.<stack>.yaml)")
	cmd.Flags().StringVar(&out, "out", "", "directory to write into")
	cmd.Flags().StringVar(&root, "root", "", "project root holding Pulumi.yaml (default: found from the working directory)")
	return cmd
}
