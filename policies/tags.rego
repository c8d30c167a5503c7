package drawbridge

import future.keywords.in

# Every taggable resource carries project, environment and owner (cost
# allocation, and knowing whom to ask before deleting anything).

required_tags := {"project", "environment", "owner"}

taggable_types := {
	"aws:ec2/vpc:Vpc",
	"aws:ec2/subnet:Subnet",
	"aws:ec2/internetGateway:InternetGateway",
	"aws:ec2/natGateway:NatGateway",
	"aws:ec2/eip:Eip",
	"aws:ec2/routeTable:RouteTable",
	"aws:ec2/securityGroup:SecurityGroup",
	"aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
	"aws:ec2/launchTemplate:LaunchTemplate",
	"aws:ec2/instance:Instance",
	"aws:ec2/flowLog:FlowLog",
	"aws:ebs/volume:Volume",
	"aws:autoscaling/group:Group",
	"aws:iam/role:Role",
	"aws:iam/policy:Policy",
	"aws:iam/instanceProfile:InstanceProfile",
	"aws:dynamodb/table:Table",
	"aws:s3/bucketV2:BucketV2",
	"aws:s3/bucket:Bucket",
}

# Tag keys: a map everywhere, a list of {key, value} on Auto Scaling groups.
tags_value := object.get(input, "tags", null)

tag_keys := {t.key | some t in tags_value} {
	is_array(tags_value)
}

tag_keys := {k | some k, _ in tags_value} {
	is_object(tags_value)
}

# Absent or null tags: no keys (the analyzer passes null for unset inputs).
tag_keys := set() {
	not is_array(tags_value)
	not is_object(tags_value)
}

deny_missing_tags[msg] {
	input.__type in taggable_types
	missing := required_tags - tag_keys
	count(missing) > 0
	msg := sprintf("%s %q lacks required tags: %v", [input.__type, input.__name, concat(", ", sort(missing))])
}
