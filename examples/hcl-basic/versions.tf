terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 7.0.0"
    }
  }

  # Keep the state in the bucket created by the state bootstrap (docs/state-bootstrap.md), e.g.:
  # backend "s3" {
  #   bucket       = "my-terraform-state-123456789012"
  #   key          = "backlog-mirror/terraform.tfstate"
  #   region       = "ap-northeast-1"
  #   encrypt      = true
  #   use_lockfile = true
  # }
}
