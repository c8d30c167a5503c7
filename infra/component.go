package infra

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// register registers c as the component drawbridge:infra:TYPE and returns
// the option that makes it the parent of the resources it creates.
func register(ctx *pulumi.Context, typ, name string, c pulumi.ComponentResource, opts []pulumi.ResourceOption) (pulumi.ResourceOption, error) {
	if err := ctx.RegisterComponentResource("drawbridge:infra:"+typ, name, c, opts...); err != nil {
		return nil, err
	}
	return pulumi.Parent(c), nil
}
