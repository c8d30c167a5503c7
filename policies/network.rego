package drawbridge

import future.keywords.in

# Security groups: only 80 and 443 may be reachable from the whole internet.

world_cidrs := {"0.0.0.0/0", "::/0"}

web_ports := {80, 443}

world_source(rule) {
	some c in rule.cidrBlocks
	c in world_cidrs
}

world_source(rule) {
	some c in rule.ipv6CidrBlocks
	c in world_cidrs
}

web_only(rule) {
	rule.protocol == "tcp"
	rule.fromPort == rule.toPort
	rule.fromPort in web_ports
}

deny_sg_world_open[msg] {
	input.__type == "aws:ec2/securityGroup:SecurityGroup"
	some rule in input.ingress
	world_source(rule)
	not web_only(rule)
	msg := sprintf("security group %q admits the whole internet on %v ports %v-%v; only tcp 80 and 443 may be open to 0.0.0.0/0 or ::/0", [input.__name, rule.protocol, rule.fromPort, rule.toPort])
}

deny_sg_world_open[msg] {
	input.__type == "aws:ec2/securityGroupRule:SecurityGroupRule"
	input.type == "ingress"
	world_source(input)
	not web_only(input)
	msg := sprintf("security group rule %q admits the whole internet on %v ports %v-%v; only tcp 80 and 443 may be", [input.__name, input.protocol, input.fromPort, input.toPort])
}

deny_sg_world_open[msg] {
	input.__type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	some c in [object.get(input, "cidrIpv4", ""), object.get(input, "cidrIpv6", "")]
	c in world_cidrs
	not web_only({"protocol": input.ipProtocol, "fromPort": input.fromPort, "toPort": input.toPort})
	msg := sprintf("ingress rule %q admits the whole internet on %v ports %v-%v; only tcp 80 and 443 may be", [input.__name, input.ipProtocol, input.fromPort, input.toPort])
}

# Backends never get public addresses: not from their launch template, not
# on an instance, and (stack rule) not by sitting in a public subnet.

truthy(x) {
	x == true
}

truthy(x) {
	x == "true"
}

backend_tagged(r) {
	r.tags["drawbridge:role"] == "backend"
}

backend_tagged(r) {
	some t in r.tags
	t.key == "drawbridge:role"
	t.value == "backend"
}

deny_backend_public_ip[msg] {
	input.__type == "aws:ec2/launchTemplate:LaunchTemplate"
	backend_tagged(input)
	some ni in input.networkInterfaces
	truthy(ni.associatePublicIpAddress)
	msg := sprintf("backend launch template %q associates a public IP address; backends are reached only through the gateway", [input.__name])
}

deny_backend_public_ip[msg] {
	input.__type == "aws:ec2/instance:Instance"
	backend_tagged(input)
	truthy(input.associatePublicIpAddress)
	msg := sprintf("backend instance %q has a public IP address; backends are reached only through the gateway", [input.__name])
}

public_subnet(s) {
	s.__type == "aws:ec2/subnet:Subnet"
	truthy(s.mapPublicIpOnLaunch)
}

public_subnet(s) {
	s.__type == "aws:ec2/subnet:Subnet"
	s.tags["drawbridge:tier"] == "public"
}

# Which property places a resource in subnets.
subnet_property := {
	"aws:autoscaling/group:Group": "vpcZoneIdentifiers",
	"aws:ec2/instance:Instance": "subnetId",
}

backend_placed(r) {
	r.__type == "aws:autoscaling/group:Group" # every group in this project is a backend group
}

backend_placed(r) {
	r.__type == "aws:ec2/instance:Instance"
	backend_tagged(r)
}

stack_deny_backend_public_subnet[msg] {
	some r in input.resources
	backend_placed(r)
	prop := subnet_property[r.__type]
	some urn in r.propertyDependencies[prop]
	some s in input.resources
	s.__urn == urn
	public_subnet(s)
	msg := sprintf("%s %q is placed in public subnet %q; backends belong in private subnets", [r.__type, r.__name, s.__name])
}

# Prod runs across AZs with a NAT gateway per AZ.

is_prod {
	some r in input.resources
	r.__type == "aws:ec2/vpc:Vpc"
	lower(r.tags.environment) in {"prod", "production"}
}

stack_warn_prod_single_nat[msg] {
	is_prod
	nats := [r | some r in input.resources; r.__type == "aws:ec2/natGateway:NatGateway"]
	count(nats) == 1
	msg := "prod has a single NAT gateway: an outage of its AZ cuts egress for every private subnet; use natStrategy one_per_az"
}

stack_warn_prod_single_az[msg] {
	is_prod
	azs := {s.availabilityZone | some s in input.resources; s.__type == "aws:ec2/subnet:Subnet"}
	count(azs) == 1
	msg := sprintf("prod uses a single availability zone (%v): both gateways and all backends fail together; set azCount >= 2", [concat(", ", azs)])
}
