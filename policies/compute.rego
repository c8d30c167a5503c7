package drawbridge

import future.keywords.in

# Instances and launch templates require IMDSv2 (session tokens): IMDSv1
# turns any SSRF in an app into stolen instance credentials.

imds_types := {"aws:ec2/instance:Instance", "aws:ec2/launchTemplate:LaunchTemplate"}

deny_imdsv1[msg] {
	input.__type in imds_types
	object.get(input, ["metadataOptions", "httpTokens"], "") != "required"
	msg := sprintf("%s %q must require IMDSv2: set metadataOptions.httpTokens to \"required\"", [input.__type, input.__name])
}

# Volumes are encrypted at rest, including root volumes declared on
# instances and in launch templates (a template without a block device
# mapping inherits whatever the AMI's snapshot says).

deny_unencrypted_volume[msg] {
	input.__type == "aws:ebs/volume:Volume"
	not truthy(object.get(input, "encrypted", false))
	msg := sprintf("EBS volume %q is not encrypted", [input.__name])
}

deny_unencrypted_volume[msg] {
	input.__type == "aws:ec2/instance:Instance"
	not truthy(object.get(input, ["rootBlockDevice", "encrypted"], false))
	msg := sprintf("instance %q: root volume is not encrypted (rootBlockDevice.encrypted)", [input.__name])
}

deny_unencrypted_volume[msg] {
	input.__type == "aws:ec2/instance:Instance"
	some d in input.ebsBlockDevices
	not truthy(object.get(d, "encrypted", false))
	msg := sprintf("instance %q: volume %v is not encrypted", [input.__name, d.deviceName])
}

deny_unencrypted_volume[msg] {
	input.__type == "aws:ec2/launchTemplate:LaunchTemplate"
	count(object.get(input, "blockDeviceMappings", [])) == 0
	msg := sprintf("launch template %q declares no block device: its root volume's encryption depends on the AMI; declare it with ebs.encrypted \"true\"", [input.__name])
}

deny_unencrypted_volume[msg] {
	input.__type == "aws:ec2/launchTemplate:LaunchTemplate"
	some m in input.blockDeviceMappings
	m.ebs
	not truthy(object.get(m.ebs, "encrypted", false))
	msg := sprintf("launch template %q: volume %v is not encrypted", [input.__name, m.deviceName])
}
