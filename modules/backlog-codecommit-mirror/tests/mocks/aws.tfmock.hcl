# The AWS provider's mock for the tests in this directory (mock_provider "aws" { source = ... }):
# values the plan reads back into documents, ARNs and names; everything else is mocked freely.

mock_data "aws_iam_policy_document" {
  defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

mock_data "aws_partition" {
  defaults = { partition = "aws" }
}

mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}

mock_data "aws_region" {
  defaults = { id = "ap-northeast-1", name = "ap-northeast-1" }
}

mock_data "aws_subnet" {
  defaults = { availability_zone = "ap-northeast-1a" }
}
