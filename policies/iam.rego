package drawbridge

import future.keywords.in

# IAM: no wildcard actions, and Resource "*" only for actions that support
# no resource-level permissions (AWS's Service Authorization Reference lists
# them with an empty resource type). Anything else has a narrower ARN.

policy_types := {
	"aws:iam/policy:Policy",
	"aws:iam/rolePolicy:RolePolicy",
	"aws:iam/userPolicy:UserPolicy",
	"aws:iam/groupPolicy:GroupPolicy",
}

# Prefixes of actions without resource-level permissions.
unscoped_action_prefixes := [
	"ec2:Describe",
	"autoscaling:Describe",
	"cloudwatch:GetMetricData",
	"cloudwatch:GetMetricStatistics",
	"cloudwatch:ListMetrics",
	"cloudwatch:DescribeAlarms",
	"sts:GetCallerIdentity",
	"elasticloadbalancing:Describe",
]

as_array(x) := x {
	is_array(x)
}

as_array(x) := [x] {
	not is_array(x)
}

policy_doc := json.unmarshal(input.policy) {
	is_string(input.policy)
}

policy_doc := input.policy {
	is_object(input.policy)
}

allow_statements[s] {
	input.__type in policy_types
	some s in as_array(policy_doc.Statement)
	s.Effect == "Allow"
}

unscoped(action) {
	some p in unscoped_action_prefixes
	startswith(action, p)
}

deny_iam_wildcard[msg] {
	some s in allow_statements
	some a in as_array(s.Action)
	wildcard_action(a)
	msg := sprintf("IAM policy %q allows action %q; list the actions it needs", [input.__name, a])
}

deny_iam_wildcard[msg] {
	some s in allow_statements
	s.NotAction
	msg := sprintf("IAM policy %q uses NotAction in an Allow statement (grants everything else)", [input.__name])
}

deny_iam_wildcard[msg] {
	some s in allow_statements
	"*" in as_array(s.Resource)
	some a in as_array(s.Action)
	not wildcard_action(a)
	not unscoped(a)
	msg := sprintf("IAM policy %q allows %q on Resource \"*\"; it supports resource-level permissions: name the ARN", [input.__name, a])
}

wildcard_action(a) {
	a == "*"
}

wildcard_action(a) {
	endswith(a, ":*")
}
