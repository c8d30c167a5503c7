// Command infra is the drawbridge Pulumi program (Pulumi.yaml's main). Run it
// through `pulumi up` or `drawbridge up`, not directly.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/drawbridge-dev/drawbridge/infra"
)

func main() {
	pulumi.Run(infra.Program(infra.Options{BuildBinary: infra.GoBuild}))
}
