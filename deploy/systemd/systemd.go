// Package systemd holds the systemd units that run drawbridge on a host.
// The .service files beside this one are the units the stack's user data
// installs (infra/boot embeds them, so the two cannot drift) and the ones an
// operator copies by hand; see README.md here.
package systemd

import _ "embed"

// GatewayUnit is drawbridge-gateway.service.
//
//go:embed drawbridge-gateway.service
var GatewayUnit string

// AutoscalerUnit is drawbridge-autoscaler.service.
//
//go:embed drawbridge-autoscaler.service
var AutoscalerUnit string
