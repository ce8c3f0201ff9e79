# A root module that calls the Terraform module committed at modules/backlog-codecommit-mirror.
provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = "backlog-mirror", ManagedBy = "terraform" }
  }
}

module "backlog_mirror" {
  source = "../../modules/backlog-codecommit-mirror"

  name = "backlog-mirror"
  backlog = {
    space_key           = "example-space"
    domain              = "backlog.jp"
    ssh_key_parameter   = "/backlog-mirror/ssh-private-key"
    host_keys_parameter = "/backlog-mirror/ssh-host-keys"
  }
  vpc_id       = var.vpc_id
  subnet_ids   = var.subnet_ids
  repositories = var.repositories

  log_retention_days = 30
  build              = { timeout_minutes = 10 }
  alert_emails       = []
}
